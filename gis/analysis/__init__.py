"""Analysis: walking coverage per home and category, gaps, and the standards checklist."""
