"""The tiny speech encoders the unit tests train in seconds (each used by more than one test module)."""

from speechlm.ssl import EncoderConfig

# one Transformer block, 32 wide: fine-tuning and label-efficiency runs on two-tone "words"
ONE_BLOCK = EncoderConfig(
    d_model=32, num_layers=1, num_heads=2, d_ff=64, pos_conv_kernel=7, pos_conv_groups=4
)
# two blocks, 32 wide, the default front end: voice-command heads and speech-unit tokenizers
TWO_BLOCKS = EncoderConfig(d_model=32, num_layers=2, num_heads=2, d_ff=64)
# one block, 16 wide: memory and cache mechanics, where only the shapes matter
SIXTEEN_WIDE = EncoderConfig(d_model=16, num_layers=1, num_heads=2, d_ff=32)
# the pretraining recipe of the cache tests: two blocks, 32 wide, 80 mel bands
CACHED = EncoderConfig(
    n_mels=80, d_model=32, num_layers=2, num_heads=2, d_ff=64, pos_conv_kernel=7, pos_conv_groups=4
)
