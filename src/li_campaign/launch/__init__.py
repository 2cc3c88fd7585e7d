"""Running the campaign's jobs: local workers and the runner, the queue (``qlaunch``), staged workers, recovery,
status and GPU assignment, on top of the storage in :mod:`li_campaign.db` (config, stores, LaunchPad, indexes)."""
