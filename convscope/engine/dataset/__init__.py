"""ConvScope over a whole dataset (no Qt): sources, a prefetching loader, the per-batch
explain function, metrics, a resumable run store, bootstrap summaries, runners (local,
Ray), and the dataset examples of each channel (top-k, receptive fields, atlas)."""
