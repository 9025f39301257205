"""The inspection window's parts: the image view, verdict banner, side panels, strip chart and log, the
frame reader thread and the capture recorder. ``gui/main_window.py`` puts them together."""
