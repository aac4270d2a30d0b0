"""What the workflow shows of its results: :mod:`.plots` (an evaluation's ROC curve and score
timelines, a study's figure) and :mod:`.tables` (a study's CSV and Markdown tables)."""
