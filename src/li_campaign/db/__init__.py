"""Database layer: store construction, the FireWorks LaunchPad and local workers."""
