"""The ``li-campaign`` command line."""
