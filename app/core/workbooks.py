"""The one way an .xlsx is set up (list exports, report downloads, import templates)."""

import xlsxwriter

# text is written as text: a cell starting with "=" (a customer's input, say) never becomes a
# formula, and nothing is turned into a link or a number behind the user's back
SAFE_TEXT = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def new_workbook(target, **options):
    """(workbook, formats) writing to a path or a file object; ``options`` are xlsxwriter's
    (``in_memory`` for a download, ``constant_memory`` for a long export). The formats are the
    house ones: header, heading, date, datetime, money."""
    book = xlsxwriter.Workbook(target, {**SAFE_TEXT, "default_date_format": "yyyy-mm-dd", **options})
    formats = {
        "header": book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1}),
        "heading": book.add_format({"bold": True, "font_size": 14}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        "money": book.add_format({"num_format": "#,##0.00"}),
    }
    return book, formats
