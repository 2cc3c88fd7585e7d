"""The campaign report (``li-campaign report``), read from the builders' derived collections."""

from li_campaign.report.report import collect_report, write_report

__all__ = ["collect_report", "write_report"]
