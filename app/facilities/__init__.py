"""Facilities (设施设备): equipment and its maintenance plans."""
