"""CTC on a frozen encoder: a learned weighted sum of all layers, then a BiGRU and a CTC output layer.

The "frozen features + small head" variant of the label-efficiency question (issue 7): only the head
trains, on the first N labeled utterances of the embedded corpus's training split; the checkpoint
is chosen on 60 dev utterances and scored on 120 test utterances (unseen speakers), greedy decoding::

    python benchmarks/frozen_ctc_sweep.py pre|scratch BUDGETS STEPS [SEED]
    python benchmarks/frozen_ctc_sweep.py pre 25,50 600

``pre`` freezes the course's pretrained encoder (``speechlm.pretrained.load("hubert")``);
``scratch`` trains the same architecture and head end to end from a random initialisation.
Results are in benchmarks/README.md ("Label efficiency").
"""

import copy
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechlm import corpus, finetune, metrics, pretrained, ssl
from speechlm.batching import pad_sequences
from speechlm.ctc import CharVocab, ctc_greedy_decode

torch.set_num_threads(1)
mode = sys.argv[1]  # pre | scratch
budgets = [int(b) for b in sys.argv[2].split(",")]
steps = int(sys.argv[3])
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
vocab = CharVocab(finetune.ALPHABET)


def prep(split, size):
    return finetune.prepare(corpus.load("embedded", split=split, size=size, seed=0, progress=False), vocab)


pool, dev, test = prep("train", 1000), prep("dev", 60), prep("test", 120)
enc = pretrained.load("hubert")
if mode == "scratch":
    torch.manual_seed(12345)
    enc = ssl.SpeechEncoder(enc.config)


class Head(nn.Module):
    def __init__(self, n_layers, d, n_classes, hidden=128):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(n_layers))
        self.norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(0.1)
        self.gru = nn.GRU(d, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, n_classes)

    def forward(self, layers, lengths):
        x = (torch.softmax(self.w, 0)[:, None, None, None] * torch.stack([self.norm(l) for l in layers])).sum(
            0
        )
        x = self.drop(x)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        y, _ = self.gru(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return self.out(self.drop(y)).log_softmax(-1)


class Model(nn.Module):
    def __init__(self, enc, train_encoder):
        super().__init__()
        self.enc = copy.deepcopy(enc)
        self.train_encoder = train_encoder
        self.head = Head(enc.config.num_layers + 1, enc.config.d_model, len(vocab))

    def forward(self, mels, ml):
        if self.train_encoder:
            out = self.enc(mels, ml)
        else:
            self.enc.eval()
            with torch.no_grad():
                out = self.enc(mels, ml)
        return self.head(out.layers, out.lengths), out.lengths


def decode(model, items):
    model.eval()
    hyps = []
    with torch.no_grad():
        for s in range(0, len(items), 32):
            b = items[s : s + 32]
            m, ml = pad_sequences([i.mels for i in b])
            lp, L = model(m, ml)
            hyps += [vocab.decode(ids) for ids in ctc_greedy_decode(lp, L)]
    model.train()
    return metrics.cer([i.text for i in items], hyps)


for budget in budgets:
    train = pool[:budget]
    torch.manual_seed(seed)
    model = Model(enc, train_encoder=(mode == "scratch"))
    params = [p for n, p in model.named_parameters() if model.train_encoder or not n.startswith("enc.")]
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / 60, max(0.0, (steps - s) / (steps - 60)))
    )
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = finetune.FinetuneConfig()
    best = (9, 0, None)
    order = []
    t = time.time()
    for step in range(1, steps + 1):
        if len(order) < 8:
            order += rng.permutation(len(train)).tolist()
        b = [train[i] for i in order[:8]]
        del order[:8]
        m, ml = pad_sequences([i.mels for i in b])
        tg, tl = pad_sequences([i.targets for i in b])
        m = finetune.spec_augment(m, ml, cfg, gen)
        lp, L = model(m, ml)
        loss = F.ctc_loss(lp.transpose(0, 1), tg, L, tl, zero_infinity=True)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        if step % 100 == 0:
            c = decode(model, dev)
            if c < best[0]:
                best = (c, step, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[2])
    print(
        mode,
        budget,
        "steps",
        steps,
        "seed",
        seed,
        "dev",
        round(best[0], 3),
        "at",
        best[1],
        "test CER",
        round(decode(model, test), 3),
        f"{time.time() - t:.0f}s",
        flush=True,
    )
