"""Buildings and units (楼栋、房屋): their tables and how the desk names a unit."""
