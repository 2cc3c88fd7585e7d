"""Flows that connect the stages of a campaign."""
