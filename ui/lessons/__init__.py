"""The lessons and the tour: runs, evidence and each lesson's drawing; the demo pack."""
