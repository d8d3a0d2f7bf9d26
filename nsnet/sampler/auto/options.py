"""The typed options of variant ``auto`` (``fit-sampler --variant auto -o KEY=VALUE``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nsnet.sampler.options import SamplerOptions, option

# Training options handed to every candidate that has them (0 = the candidate's own default).
SHARED_TRAINING = ("epochs", "width", "lr", "batch_size")


@dataclass
class AutoOptions(SamplerOptions):
    """Which candidates to try, how many seeds each, the holdout share and the budget they are judged at."""

    candidates: str = option("all", "comma-separated candidate labels (listed below), or all")
    seeds: int = option(2, "training seeds per candidate on the holdout (its score: the mean); also the tries "
                        "of the final run when it lands at Uniform's level", min=1, max=20)
    holdout: float = option(0.2, "share of the train videos held out to choose (the last ones in store order)",
                            min=0.05, max=0.5)
    groups: str = option("", "video -> group table (JSON object or CSV video_id,group; path or URL): the holdout "
                         "is then the last of 1/holdout class-stratified folds that keep groups whole (one "
                         "source, photo or camera never on both sides); empty = the last videos in store order")
    k: int = option(5, "frames per video when the candidates are scored on the holdout", min=1)
    resamples: int = option(2000, "bootstrap resamples of the holdout videos (intervals vs Uniform)", min=100)
    epochs: int = option(0, "epochs of every candidate (0 = each candidate's default)", min=0)
    width: int = option(0, "network width of every candidate that has one (0 = default)", min=0)
    lr: float = option(0.0, "learning rate of every candidate (0 = default)", min=0.0)
    batch_size: int = option(0, "videos per step of every candidate (0 = default)", min=0)

    def check(self) -> None:
        """Raises SamplerConfigError for an unknown candidate label, or a holdout share that is not 1/n with
        ``groups``."""
        from nsnet.sampler.candidates import parse_candidates

        parse_candidates(self.candidates)
        if self.groups:
            from nsnet.sampler.auto.groups import holdout_folds

            holdout_folds(self.holdout)

    def shared_training(self) -> dict[str, Any]:
        """Returns the training options set here (non-zero), to pass to every candidate that has them."""
        return {name: getattr(self, name) for name in SHARED_TRAINING if getattr(self, name)}

    def needs_rec_logits(self) -> bool:
        """Returns True: the holdout is scored with the recognizer logits."""
        return True

    def needs_rec_features(self) -> bool:
        """Returns True when a candidate's training reads the recognizer features."""
        from nsnet.sampler.candidates import parse_candidates, training_config

        return any(training_config(c, self.shared_training(), seed=0, device="cpu").needs_rec_features()
                   for c in parse_candidates(self.candidates))
