"""The views in the middle of the window, one tab each."""
