"""GUI layer (PySide6): the inspection window, its worker threads, the training wizard and review panel."""
