"""Storage: the campaign directory and its config, the JobStore and derived stores, the FireWorks LaunchPad,
indexes, verification and migration. Running jobs on top of it is :mod:`li_campaign.launch`."""
