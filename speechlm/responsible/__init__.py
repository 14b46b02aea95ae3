"""Responsible speech AI (notebook 17): privacy, robustness, interpretability and cost.

- :mod:`~speechlm.responsible.privacy`: a speaker-identification probe on pooled
  layer embeddings and a projection that removes the speaker subspace;
- :mod:`~speechlm.responsible.robustness`: frame phone accuracy of frozen
  encoders under noise, speed and pitch perturbation;
- :mod:`~speechlm.responsible.interpret`: every layer's frames and attention maps;
- :mod:`~speechlm.responsible.cost`: parameters, MACs (analytic and measured),
  CPU time and an energy estimate; :mod:`~speechlm.responsible.course_models`:
  the course's models at the sizes the notebooks train.
"""

from speechlm.responsible.cost import (
    LAPTOP_CPU_WATTS,
    ModelCost,
    cpu_time_s,
    encoder_macs,
    energy_joules,
    gru_macs,
    measure_cost,
    measured_macs,
)
from speechlm.responsible.course_models import CourseModel, course_models
from speechlm.responsible.interpret import (
    attention_maps,
    encode_layers,
    frame_phone_targets,
    own_segment_attention,
    phone_probe_accuracy,
)
from speechlm.responsible.privacy import (
    mean_pool,
    project_out,
    speaker_id_accuracy,
    speaker_subspace,
    split_per_speaker,
)
from speechlm.responsible.robustness import (
    Perturbation,
    phone_accuracy_under_perturbations,
    train_phone_encoder,
)

__all__ = [
    "LAPTOP_CPU_WATTS",
    "CourseModel",
    "ModelCost",
    "Perturbation",
    "attention_maps",
    "course_models",
    "cpu_time_s",
    "encode_layers",
    "encoder_macs",
    "energy_joules",
    "frame_phone_targets",
    "gru_macs",
    "mean_pool",
    "measure_cost",
    "measured_macs",
    "own_segment_attention",
    "phone_accuracy_under_perturbations",
    "phone_probe_accuracy",
    "project_out",
    "speaker_id_accuracy",
    "speaker_subspace",
    "split_per_speaker",
    "train_phone_encoder",
]
