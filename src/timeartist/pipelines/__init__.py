"""What a user runs: rendering series as images, period detection, zero-shot forecasting by outpainting."""
