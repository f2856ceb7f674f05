"""Excel import of customers, units, tags and meter readings: template, dry run, all-or-nothing, idempotent.

A file is read (openpyxl read-only), every row is checked with the same field rules as the
forms (app.core.validation, declared choices, composite keys), and nothing is written unless every
row is good. Re-importing a file updates rows found by their natural key (a customer's
phone, a unit's building + number, a tag's name, a reading's unit + fee type + period) instead of
adding duplicates.
"""

import datetime
import io
import re
from decimal import Decimal, InvalidOperation

import openpyxl
from flask_babel import lazy_gettext as _
from sqlalchemy import select

from app.core.workbooks import new_workbook
from app.admin import tasks
from app.core.errors import DomainError
from app.policy.field_permissions import field_access_for
from app.policy.principal import current_principal
from app.models import Building, Customer, CustomerUnit, MeterReading, Tag, Unit
from app.core.text_search import refresh_statistics
from app.core.validation import check_value, normalize_phone


class Column:
    def __init__(self, field, header, required=False, kind="text", example=""):
        self.field, self.header, self.required, self.kind, self.example = field, header, required, kind, example


SPECS = {
    "tags": {
        "model": Tag,
        "resource": "Tag",
        "title": _("Tags"),
        "columns": [
            Column("name", _("Name"), True, example="老年客户"),
            Column("color", _("Colour"), example="#cc3333"),
            Column("description", _("Description")),
        ],
    },
    "units": {
        "model": Unit,
        "resource": "Unit",
        "title": _("Units"),
        "columns": [
            Column("building", _("Building"), True, "building", "1号楼"),
            Column("number", _("Unit number"), True, example="1203"),
            Column("floor", _("Floor"), kind="int", example="12"),
            Column("area", _("Area (m²)"), kind="decimal", example="89.50"),
            Column("layout", _("Layout"), example="三室两厅"),
            Column("use", _("Use"), kind="choice", example="住宅"),
            Column("status", _("Status"), kind="choice", example="已入住"),
        ],
    },
    "meter_readings": {
        "model": MeterReading,
        "resource": "MeterReading",
        "title": _("Meter readings"),
        "columns": [
            Column("unit", _("Unit"), True, "unit", "1号楼-1203"),
            Column("fee_type", _("Fee type"), True, "choice", "水费"),
            Column("period", _("Period"), True, example="2026-11"),
            Column("previous_reading", _("Previous reading"), kind="decimal", example="1024.50"),
            Column("reading", _("Reading"), True, "decimal", "1036.00"),
        ],
    },
    "customers": {
        "model": Customer,
        "resource": "Customer",
        "title": _("Customers"),
        "columns": [
            Column("name", _("Full name"), True, example="王芳"),
            Column("phone", _("Phone"), True, example="13812345678"),
            Column("gender", _("Gender"), kind="choice", example="女"),
            Column("birthday", _("Birthday"), kind="date", example="1965-03-08"),
            Column("email", _("Email")),
            Column("id_number", _("ID number")),
            Column("occupation", _("Occupation")),
            Column("type", _("Type"), kind="choice", example="业主"),
            Column("status", _("Status"), kind="choice", example="正常"),
            Column("tags", _("Tags"), kind="tags", example="老年客户、VIP"),
            Column("unit", _("Unit"), kind="unit", example="1号楼-1203"),
            Column("notes", _("Notes")),
        ],
    },
}


def template_workbook(kind):
    """A downloadable .xlsx with the headers and one example row."""
    spec = SPECS[kind]
    buffer = io.BytesIO()
    workbook, formats = new_workbook(buffer, in_memory=True)
    sheet = workbook.add_worksheet(str(spec["title"])[:31])
    bold = formats["header"]
    for col, column in enumerate(spec["columns"]):
        sheet.write_string(0, col, str(column.header) + (" *" if column.required else ""), bold)
        sheet.write_string(1, col, column.example)
        sheet.set_column(col, col, 16)
    sheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()


def read_rows(data):
    """Rows of the first sheet as lists of cell values, header first; a clear error if not .xlsx."""
    if not data or data[:2] != b"PK":
        raise DomainError(_("The file is not an Excel workbook (.xlsx)."))
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file
        raise DomainError(_("The file could not be read as an Excel workbook (.xlsx)."))
    try:
        return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


def _text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _header_key(header):
    """Headers match without the required mark, units in brackets or spaces: 面积(㎡) = 面积."""
    text = _text(str(header) if header is not None else "").rstrip(" *")
    return re.sub(r"[\s]|[（(].*?[)）]", "", text).lower()


def _choice(model, field, text):
    choices = model.__table__.columns[field].info["choices"]
    for code in choices:
        if text == code or text == choices.label(code):
            return code
    raise ValueError(str(_("Not a valid choice: %(value)s", value=text)))


class _Lookups:
    """Buildings, units and tags read once per import, not once per row."""

    def __init__(self, session):
        self.session = session
        self.buildings = {}
        for building in session.execute(select(Building)).scalars():
            self.buildings[building.name] = building
            self.buildings[building.code] = building
        self.tags = {tag.name: tag for tag in session.execute(select(Tag)).scalars()}

    def unit(self, text):
        building_name, sep, number = text.rpartition("-")
        building = self.buildings.get(building_name)
        if not sep or building is None:
            raise ValueError(str(_("Unknown unit: %(value)s (write building-number, e.g. 1号楼-1203)", value=text)))
        unit = self.session.execute(select(Unit).where(Unit.building_id == building.id, Unit.number == number)).scalar()
        if unit is None:
            raise ValueError(str(_("Unknown unit: %(value)s (write building-number, e.g. 1号楼-1203)", value=text)))
        return unit


def _convert(model, column, text, lookups):
    if column.kind == "int":
        return int(Decimal(text))
    if column.kind == "decimal":
        return Decimal(text).quantize(Decimal("0.01"))
    if column.kind == "date":
        return datetime.date.fromisoformat(text[:10])
    if column.kind == "choice":
        return _choice(model, column.field, text)
    if column.kind == "building":
        if text not in lookups.buildings:
            raise ValueError(str(_("Unknown building: %(value)s", value=text)))
        return lookups.buildings[text]
    if column.kind == "tags":
        names = [n.strip() for n in text.replace(",", "、").replace("，", "、").split("、") if n.strip()]
        unknown = [n for n in names if n not in lookups.tags]
        if unknown:
            raise ValueError(str(_("Unknown tag: %(value)s", value="、".join(unknown))))
        return [lookups.tags[n] for n in names]
    if column.kind == "unit":
        return lookups.unit(text)
    if column.field == "phone":
        text = normalize_phone(text)
    if column.field == "id_number":
        text = text.upper()
    return text


def _natural_key(kind, values):
    if kind == "meter_readings":
        unit = values.get("unit")
        return (unit.id if unit else None, values.get("fee_type"), values.get("period"))
    if kind == "customers":
        return values.get("phone")
    if kind == "units":
        building = values.get("building")
        return (building.id if building else None, values.get("number"))
    return values.get("name")


def _existing(session, kind, key):
    if kind == "meter_readings":
        return session.execute(
            select(MeterReading).where(
                MeterReading.unit_id == key[0], MeterReading.fee_type == key[1], MeterReading.period == key[2]
            )
        ).scalar()
    if kind == "customers":
        return session.execute(select(Customer).where(Customer.phone == key)).scalar()
    if kind == "units":
        return session.execute(select(Unit).where(Unit.building_id == key[0], Unit.number == key[1])).scalar()
    return session.execute(select(Tag).where(Tag.name == key)).scalar()


def check_rows(session, kind, rows, principal):
    """Dry run: (parsed rows as (row number, values), errors as (row number, message)).

    A value in a column the importer may not write (hidden, masked or read-only for them) refuses
    its row with the reason; the row is not looked up, so nothing tells whether such a value exists.
    """
    spec = SPECS[kind]
    model, columns = spec["model"], spec["columns"]
    access = field_access_for(principal, model.__name__)
    if not rows:
        return [], [(1, str(_("The file is empty.")))]
    header = [_header_key(h) for h in rows[0]]
    known = {_header_key(c.header) for c in columns}
    missing = [str(c.header) for c in columns if c.required and _header_key(c.header) not in header]
    unknown = [_text(h) for h, key in zip(rows[0], header) if key and key not in known]
    problems = []
    if missing:
        problems.append((1, str(_("Missing columns: %(columns)s", columns="、".join(missing)))))
    if unknown:
        problems.append((1, str(_("Unknown columns: %(columns)s", columns="、".join(unknown)))))
    if problems:
        return [], problems
    position = {h: i for i, h in enumerate(header)}
    lookups = _Lookups(session)
    parsed, errors, seen = [], [], {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(_text(v) for v in row):
            continue
        values, row_errors = {}, []
        for column in columns:
            index = position.get(_header_key(column.header))
            text = _text(row[index]) if index is not None and index < len(row) else ""
            if not text:
                if column.required:
                    row_errors.append(str(_("%(column)s is required.", column=column.header)))
                continue
            if not access.writable(column.field):
                row_errors.append(str(_("%(column)s: you may not change this field.", column=column.header)))
                continue
            try:
                value = _convert(model, column, text, lookups)
            except (ValueError, InvalidOperation, ArithmeticError) as error:
                message = str(error) if str(error) and not str(error).startswith(("invalid", "Invalid")) else ""
                row_errors.append(
                    f"{column.header}: {message}"
                    if message
                    else str(_("%(column)s: not a valid value", column=column.header))
                )
                continue
            check = (
                model.__table__.columns[column.field].info.get("check")
                if column.field in model.__table__.columns
                else None
            )
            problem = check_value(check, value) if check else None
            if problem:
                row_errors.append(f"{column.header}: {problem}")
                continue
            values[column.field] = value
        if not row_errors and kind == "meter_readings":
            row_errors.extend(_check_reading(session, values))
        if not row_errors:
            key = _natural_key(kind, values)
            if key in seen:
                row_errors.append(str(_("Duplicate of row %(row)s in this file.", row=seen[key])))
            else:
                seen[key] = number
        if row_errors:
            errors.extend((number, message) for message in row_errors)
        else:
            parsed.append((number, values))
    return parsed, errors


def _check_reading(session, values):
    """The previous reading defaults to the unit's last one before the period; a meter never runs back."""
    if values.get("previous_reading") is None:
        last = session.execute(
            select(MeterReading.reading)
            .where(
                MeterReading.unit_id == values["unit"].id,
                MeterReading.fee_type == values["fee_type"],
                MeterReading.period < values["period"],
            )
            .order_by(MeterReading.period.desc())
            .limit(1)
        ).scalar()
        values["previous_reading"] = last if last is not None else Decimal("0.00")
    if values["reading"] < values["previous_reading"]:
        return [
            str(
                _(
                    "The reading %(reading)s is below the previous one (%(previous)s).",
                    reading=values["reading"],
                    previous=values["previous_reading"],
                )
            )
        ]
    return []


def import_rows(session, kind, rows, principal):
    """Import all rows or none: returns {"created": n, "updated": n}; raises DomainError with the errors."""
    parsed, errors = check_rows(session, kind, rows, principal)
    if errors:
        raise DomainError(_("The file has %(count)s errors; nothing was imported.", count=len(errors)))
    try:
        created, updated = _apply(session, kind, parsed)
        session.flush()
        refresh_statistics(
            session.connection(), tables=[SPECS[kind]["model"].__tablename__]
        )  # the planner sees the rows
        session.commit()
    except Exception:
        session.rollback()
        raise
    return {"created": created, "updated": updated}


def _apply(session, kind, parsed):
    """Write checked rows (not committed): found by natural key and updated, else added. (created, updated)"""
    model = SPECS[kind]["model"]
    created = updated = 0
    for _number, values in parsed:
        values = dict(values)
        record = _existing(session, kind, _natural_key(kind, values))
        if record is None:
            record = model()
            session.add(record)
            created += 1
        else:
            updated += 1
        unit = values.pop("unit", None) if kind == "customers" else None
        for field, value in values.items():
            setattr(record, field, value)
        if unit is not None and all(link.unit_id != unit.id for link in record.units):
            relation = "tenant" if record.type in ("tenant", "commercial") else "owner"
            record.units.append(CustomerUnit(unit=unit, relation=relation))
    session.flush()
    return created, updated


# ---------------------------------------------------------------- the import as a background task


def queue_import(session, actor, kind, data, dry_run, folder, now):
    """Keep the uploaded file and queue its check (and, unless ``dry_run``, its import) as a
    background task (ImportTask); the request does no more than that. Returns the task."""
    import os
    import secrets

    if kind not in SPECS:
        raise DomainError(_("Unknown kind of import: %(kind)s", kind=kind))
    if not data or data[:2] != b"PK":
        raise DomainError(_("The file is not an Excel workbook (.xlsx)."))
    os.makedirs(folder, exist_ok=True)
    name = f"import-{secrets.token_hex(16)}.xlsx"
    with open(os.path.join(folder, name), "wb") as handle:
        handle.write(data)
    try:
        return tasks.enqueue(session, actor, "import", {"kind": kind, "file": name, "dry_run": bool(dry_run)}, now)
    except Exception:
        os.remove(os.path.join(folder, name))
        raise


def _task_file(name):
    import os

    from flask import current_app

    if not re.fullmatch(r"import-[0-9a-f]{32}\.xlsx", name or ""):
        raise DomainError(_("The uploaded file is missing."))
    return os.path.join(current_app.config["UPLOAD_FOLDER"], "imports", name)


def upload_folder():
    import os

    from flask import current_app

    return os.path.join(current_app.config["UPLOAD_FOLDER"], "imports")


class ImportTask(tasks.TaskKind):
    """Excel import from the page: every row is checked first (nothing is written if any is bad,
    or on a dry run), then the rows are written a batch at a time, each batch committed with the
    cursor (the next row); a row is found by its natural key, so none is added twice."""

    name = "import"
    title = _("Excel import")

    def permissions(self, args):
        spec = SPECS.get(args.get("kind"))
        if spec is None:
            return []
        return [("can_create", spec["resource"]), ("can_edit", spec["resource"])]

    def check(self, session, args):
        if args.get("kind") not in SPECS:
            raise DomainError(_("Unknown kind of import: %(kind)s", kind=args.get("kind")))
        _task_file(args.get("file"))

    def prepare(self, session, task):
        import os

        path = _task_file(task.args["file"])
        if not os.path.isfile(path):
            raise DomainError(_("The uploaded file is missing."))
        with open(path, "rb") as handle:
            rows = read_rows(handle.read())
        parsed, errors = check_rows(session, task.args["kind"], rows, current_principal())
        if task.cursor is not None and errors and not task.result.get("error_count"):
            # resumed after a crash, and the rows no longer pass (the data changed meanwhile): stop here
            raise DomainError(
                _(
                    "The rows no longer pass the checks (%(count)s errors); the import stopped after %(done)s rows.",
                    count=len(errors),
                    done=task.done or 0,
                )
            )
        if task.cursor is None:
            task.cursor = {"next": 0}
            task.total = len(parsed)
            task.result = {
                "good": len(parsed),
                "errors": [list(e) for e in errors[:500]],
                "error_count": len(errors),
                "dry_run": task.args.get("dry_run", False),
                "created": 0,
                "updated": 0,
            }
            tasks.add_problems(task, [f"{row}: {message}" for row, message in errors[:500]])
        return {"parsed": parsed, "stop": bool(errors) or task.args.get("dry_run")}

    def step(self, session, task, state, batch):
        if state["stop"]:
            return True
        start = task.cursor["next"]
        chunk = state["parsed"][start : start + batch]
        created, updated = _apply(session, task.args["kind"], chunk)
        result = dict(task.result)
        result["created"] += created
        result["updated"] += updated
        task.result = result
        task.cursor = {"next": start + len(chunk)}
        task.done = start + len(chunk)
        finished = task.done >= len(state["parsed"])
        if finished:  # the planner sees the new rows
            session.flush()
            refresh_statistics(session.connection(), tables=[SPECS[task.args["kind"]]["model"].__tablename__])
        return finished

    def ended(self, session, task, state):
        import os

        try:
            os.remove(_task_file(task.args.get("file")))
        except (OSError, DomainError):
            pass

    def summary(self, task):
        result = task.result or {}
        if "good" not in result:
            return ""
        if result["error_count"] and not result["dry_run"]:
            return _("The file has %(count)s errors; nothing was imported.", count=result["error_count"])
        if result["dry_run"]:
            return _(
                "%(good)s rows are ready to import; %(bad)s problems found.",
                good=result["good"],
                bad=result["error_count"],
            )
        return _(
            "Imported: %(created)s added, %(updated)s updated.", created=result["created"], updated=result["updated"]
        )

    def link(self, task):
        kind = (task.args or {}).get("kind")
        return ("ImportView.page", {"kind": kind, "task": task.id}) if kind in SPECS else None


tasks.register(ImportTask())
