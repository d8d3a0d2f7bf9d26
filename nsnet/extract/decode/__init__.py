"""Decoder backends behind one interface (:class:`~nsnet.extract.decode.base.Backend`).

``pyav`` is exact on every codec (or refuses the file); ``decord`` is used only where the decode
corpus proves it exact; ``torchcodec`` where its wheel loads. ``auto`` picks per video
(:mod:`nsnet.extract.decode.policy`). :mod:`nsnet.extract.video` is the entry point callers use.
"""
