"""Architecture diagrams, drawn with matplotlib (no image files to go stale): one per architecture,
shown next to the code that builds it. :mod:`speechlm.diagrams.draw` holds the shared primitives
(boxes, arrows, labels on a blank canvas); each module draws one notebook's architectures.
"""
