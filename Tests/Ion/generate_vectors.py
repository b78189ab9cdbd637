#!/usr/bin/env python3
"""Generates Ion test vectors for the Swift reader from the reference implementation.

Run by hand (the outputs are committed; the Swift tests need no Python):

    pip install amazon-ion==0.15.0
    python3 Tests/Ion/generate_vectors.py

For every positive case it writes, under Tests/AgentCoreTests/Fixtures/ion/good/:
  NAME.ion   the Ion text input (when the case starts from text)
  NAME.10n   the Ion binary encoding of the same values, written by amazon-ion
  NAME.json  the expected value tree (format below), read back by amazon-ion

Expectations come from amazon-ion's pure-Python event reader, which keeps struct field order
and duplicate fields and reports where an unresolved symbol was imported from. Every tree is
cross-checked against the C extension (ion-c) reading the same bytes, and the text and binary
forms must give the same tree; the script stops on any disagreement. The few cases where both
reference readers are wrong carry a hand-written expectation, marked "source": "hand".

Negative cases go to bad/ (NAME.ion or NAME.10n) with bad/index.json giving, per file, why it
must be rejected, the IonError kind expected, and what each reference reader does with it
("accepts" marks a reference bug or a bound of ours, explained in the reason).

Expected tree format (one JSON object per value):
  {"type": T, "annotations": [SYM...], "null": true}                      typed null
  {"type": "bool"|"int"|..., "annotations": [...], "value": V}
    bool: true/false; int: decimal string; float: "nan" or 16 hex digits of the IEEE-754 bits;
    decimal: {"negative", "coefficient" (digits), "exponent"};
    timestamp: {"precision", "year", "month", "day", "hour", "minute", "second",
                "fraction": {"coefficient", "exponent"} | null, "offset": minutes | null};
    symbol: SYM; string: text; clob/blob: hex; list/sexp: [values];
    struct: [{"name": SYM, "value": value}]
  SYM: {"text": "..."} or {"unknown": true, "import": {"name", "position"} | null}
"""

import json
import math
import os
import shutil
import subprocess
import struct
import sys
from decimal import Decimal
from io import BytesIO, StringIO

import amazon.ion.simpleion as simpleion
from amazon.ion.core import IonEvent, IonEventType, IonType, ION_STREAM_END_EVENT, ION_VERSION_MARKER_EVENT
from amazon.ion.reader import blocking_reader, NEXT_EVENT
from amazon.ion.reader_binary import binary_reader
from amazon.ion.reader_managed import managed_reader
from amazon.ion.reader_text import text_reader
from amazon.ion.symbols import SymbolTableCatalog, SymbolToken, shared_symbol_table
from amazon.ion.writer import blocking_writer
from amazon.ion.writer_binary import binary_writer

IVM = b"\xe0\x01\x00\xea"
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "AgentCoreTests", "Fixtures", "ion"))

# ---------------------------------------------------------------------------------------------
# Shared symbol tables (SPEC section 8: AWS's binary flags import "ops" (max_id 23) and "anns"
# (max_id 12); only "eq" = ops position 4 is publicly known, the other texts here are made up).

OPS_TEXTS = ["and", "or", "not", "eq", "gt", "gte", "lt", "lte", "begins_with", "ends_with", "contains",
             "in", "matches", "exists", "split", "op16", "op17", "op18", "op19", "op20", "op21", "op22", "op23"]
ANNS_TEXTS = ["pct", "by", "seed", "key", "pattern", "ann6", "ann7", "ann8", "ann9", "ann10", "ann11", "ann12"]
OPS = shared_symbol_table("ops", 1, OPS_TEXTS)
ANNS = shared_symbol_table("anns", 1, ANNS_TEXTS)
MISSING = shared_symbol_table("missing", 3, ["m1", "m2", "m3", "m4", "m5"])  # never in a reading catalog


def catalog_json(tables):
    return [{"name": t.name, "version": t.version, "symbols": list(t.symbol_texts) if hasattr(t, "symbol_texts")
             else [tok.text for tok in t]} for t in tables]


def shared_json(name, version, texts):
    return {"name": name, "version": version, "symbols": texts}


def py_catalog(tables):
    catalog = SymbolTableCatalog()
    for table in tables:
        catalog.register(table)
    return catalog


# ---------------------------------------------------------------------------------------------
# Reading with the pure-Python event reader and converting to the expected tree.

def read_events(data, catalog=None):
    if data[:4] == IVM:
        raw, stream = binary_reader(), BytesIO(data)
    else:
        # In bytes mode the Python text reader decodes non-ASCII as Latin-1; give it text.
        raw, stream = text_reader(is_unicode=True), StringIO(data.decode("utf-8"))
    reader = blocking_reader(managed_reader(raw, catalog), stream)
    events = []
    while True:
        event = reader.send(NEXT_EVENT)
        if event.event_type is IonEventType.STREAM_END:
            return events
        if event.event_type is IonEventType.VERSION_MARKER:
            continue
        events.append(event)


def sym(token):
    if isinstance(token, str):
        return {"text": token}
    if token.text is not None:
        return {"text": token.text}
    location = None
    if token.location is not None:
        location = {"name": token.location.name, "position": token.location.position}
    return {"unknown": True, "import": location}


def float_value(value):
    if math.isnan(value):
        return "nan"
    return struct.pack(">d", value).hex()


def decimal_value(value):
    sign, digits, exponent = value.as_tuple()
    coefficient = "".join(map(str, digits)).lstrip("0") or "0"
    return {"negative": bool(sign), "coefficient": coefficient, "exponent": exponent}


PRECISIONS = ["year", "month", "day", "minute", "second"]


def timestamp_value(ts):
    precision = PRECISIONS[ts.precision.value]
    fraction = None
    if precision == "second" and getattr(ts, "fractional_precision", 0):
        fs = getattr(ts, "fractional_seconds", None)
        if fs is not None:
            d = decimal_value(Decimal(fs))
            fraction = {"coefficient": d["coefficient"], "exponent": d["exponent"]}
        else:
            fp = ts.fractional_precision
            fraction = {"coefficient": str(ts.microsecond // 10 ** (6 - fp)), "exponent": -fp}
    offset = None
    if ts.tzinfo is not None and ts.precision.value >= 3:
        offset = int(ts.utcoffset().total_seconds() // 60)
    return {
        "precision": precision, "year": ts.year, "month": ts.month, "day": ts.day,
        "hour": ts.hour if ts.precision.value >= 3 else 0,
        "minute": ts.minute if ts.precision.value >= 3 else 0,
        "second": ts.second if ts.precision.value >= 4 else 0,
        "fraction": fraction, "offset": offset,
    }


def scalar_value(ion_type, value):
    if ion_type is IonType.BOOL:
        return bool(value)
    if ion_type is IonType.INT:
        return str(int(value))
    if ion_type is IonType.FLOAT:
        return float_value(float(value))
    if ion_type is IonType.DECIMAL:
        return decimal_value(value)
    if ion_type is IonType.TIMESTAMP:
        return timestamp_value(value)
    if ion_type is IonType.SYMBOL:
        return sym(value)
    if ion_type is IonType.STRING:
        return value
    if ion_type in (IonType.CLOB, IonType.BLOB):
        return bytes(value).hex()
    raise ValueError(ion_type)


def tree_from_events(events):
    position = 0

    def node():
        nonlocal position
        event = events[position]
        position += 1
        out = {"type": event.ion_type.name.lower(), "annotations": [sym(a) for a in event.annotations]}
        if event.event_type is IonEventType.CONTAINER_START:
            children = []
            while events[position].event_type is not IonEventType.CONTAINER_END:
                field_name = events[position].field_name
                child = node()
                if event.ion_type is IonType.STRUCT:
                    children.append({"name": sym(field_name), "value": child})
                else:
                    children.append(child)
            position += 1
            out["value"] = children
        elif event.value is None or event.ion_type is IonType.NULL:
            out["null"] = True
        else:
            out["value"] = scalar_value(event.ion_type, event.value)
        return out

    values = []
    while position < len(events):
        values.append(node())
    return values


# The C extension builds IonPy values: struct fields come grouped by name and unknown symbols
# lose their import location, so the cross-check compares a normalised form.

def c_tree(data, catalog=None):
    values = simpleion.loads(data, catalog=catalog, single_value=False)
    return [c_node(v) for v in values]


def c_sym(token):
    if isinstance(token, str):
        return {"text": token}
    if token is None:
        return {"unknown": True}
    return {"text": token.text} if token.text is not None else {"unknown": True}


def c_node(value):
    ion_type = value.ion_type
    out = {"type": ion_type.name.lower(), "annotations": [c_sym(a) for a in value.ion_annotations]}
    if ion_type is IonType.NULL or getattr(value, "is_null", False) or type(value).__name__ == "IonPyNull":
        out["null"] = True
    elif ion_type is IonType.STRUCT:
        out["value"] = [{"name": c_sym(k), "value": c_node(v)} for k, v in value.iteritems()]
    elif ion_type in (IonType.LIST, IonType.SEXP):
        out["value"] = [c_node(v) for v in value]
    elif ion_type is IonType.SYMBOL:
        out["value"] = c_sym(value)
    else:
        out["value"] = scalar_value(ion_type, value)
    return out


def normalise(tree):
    """Drops what the C extension cannot tell apart: import locations and struct field order."""
    if isinstance(tree, list):
        return [normalise(v) for v in tree]
    if isinstance(tree, dict):
        if tree.get("unknown"):
            return {"unknown": True}
        out = {k: normalise(v) for k, v in tree.items()}
        if tree.get("type") == "struct" and "value" in tree:
            out["value"] = sorted(out["value"], key=lambda f: json.dumps(f["name"], sort_keys=True))
            out["value"] = group_stable(out["value"])
        return out
    return tree


def group_stable(fields):
    order, groups = [], {}
    for f in fields:
        key = json.dumps(f["name"], sort_keys=True)
        if key not in groups:
            order.append(key)
            groups[key] = []
        groups[key].append(f)
    return [f for key in order for f in groups[key]]


def same_modulo_c(expected, c_result):
    def canon(tree):
        return json.dumps(normalise(tree), sort_keys=True)
    return canon(expected) == canon(c_result)


# ---------------------------------------------------------------------------------------------
# Writing binary from events (keeps field order and duplicates, which IonPyDict would regroup).

def binary_from_events(events, imports=None):
    out = BytesIO()
    writer = blocking_writer(binary_writer(imports), out)
    writer.send(ION_VERSION_MARKER_EVENT)
    for e in events:
        writer.send(IonEvent(e.event_type, e.ion_type, e.value, e.field_name, e.annotations, e.depth))
    writer.send(ION_STREAM_END_EVENT)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Cases.

SPEC_FLAGS = """'simple_flag'::'''{"enabled":true}'''
'tiered_release'::[
  [ (or (eq $group "Tier1") (split pct::25 by::$userId)), '''{"_variant":"Tier1","enabled":true}''' ],
  '''{"_variant":"Default Variant","enabled":false}'''
]
"""

FLAGS_WITH_OPERATORS = """// Every rule form of SPEC section 8, as AppConfig's local-development samples write them.
'checkout_v2'::[
  Beta::[ (and (eq $country "DE") (gte $age 18) (not (lt $score 1.5))), '''{"_variant":"Beta","enabled":true,"limit":25}''' ],
  Gradual::[ (split pct::20 by::$userId seed::"2024-q1"), '''{"_variant":"Gradual","enabled":true}''' ],
  Wide::[ (split pct::25 by::$userId seed::"2024-q1"), '''{"_variant":"Wide","enabled":true}''' ],
  Named::[ (or (in $userId ["a1", "b2"]) (begins_with $email "ops@") (ends_with $email ".internal")
              (contains $tags "beta") (matches in::$email pattern::"^[a-z]+@example\\\\.com$")
              (exists key::"tier") (gt $signup 2024-01-01T00:00Z) (lte $ratio 0.25)), '''{"_variant":"Named","enabled":true}''' ],
  '''{"_variant":"Default Variant","enabled":false}'''
]
'plain'::'''{"enabled":false}'''
"""

# Which reference gives the expectation. By default the pure-Python reader, cross-checked with
# ion-c. PY_ONLY: ion-c wrongly rejects (a comment right after a number, which the Ion text
# grammar allows; a text import that is not in the catalog but has a max_id). C_ONLY: the
# pure-Python reader wrongly rejects (VT and FF whitespace, a byte order mark).
PY_ONLY = "py-only"
C_ONLY = "c-only"
TEXT_ONLY = "text-only"  # amazon-ion cannot write unknown symbols to binary

GOOD_TEXT = [
    # nulls and bools
    ("nulls", "null null.null null.bool null.int null.float null.decimal null.timestamp null.symbol "
              "null.string null.clob null.blob null.list null.sexp null.struct"),
    ("bools", "true false a::true"),
    # ints
    ("ints_small", "0 -0 1 -1 42 -42 9223372036854775807 -9223372036854775808 1_000_000 -1_2_3"),
    ("ints_big", "9223372036854775808 -9223372036854775809 18446744073709551616 "
                 "123456789012345678901234567890123456789012345678901234567890 -98765432109876543210"),
    ("ints_hex", "0x0 0x1F 0XfF -0x1 0x7FFF_FFFF_FFFF_FFFF -0x8000000000000000 0x1_0000_0000_0000_0000 "
                 "-0xDEAD_BEEF_CAFE_BABE_0123"),
    ("ints_binary", "0b0 0b101 -0b1 0B1111_0000 0b1_0000000000000000000000000000000000000000000000000000000000000000"),
    # floats
    ("floats", "0e0 -0e0 1e0 1.5e0 -2.5E-3 1.7976931348623157e308 4.9e-324 1e400 -1e400 1e-400 "
               "nan +inf -inf 1.e3 12_3.4_5e10"),
    ("floats_inf_in_containers", "[nan, +inf, -inf] (+inf -inf nan)"),
    # decimals
    ("decimals", "0. -0. 0.0 -0.0 1. 1.0 1.00 -1.5 0.001 123.456 1d0 1d3 1D-3 -1.5d+2 0d-0 -0d0 "
                 "12_345.678_9 1.0d-10 9999999999999999999999.99999999999"),
    ("decimals_precision", "1.23456789012345678901234567890123456789 -0.000000000000000000000001"),
    # timestamps
    ("timestamps_precision", "2007T 2007-02T 2007-02-23 2007-02-23T 2007-02-23T12:14Z 2007-02-23T12:14:33Z "
                             "2007-02-23T12:14:33.079Z 2007-02-23T12:14:33.0790-08:00"),
    ("timestamps_offsets", "2007-02-23T12:14-00:00 2007-02-23T12:14+00:00 2007-02-23T12:14+05:30 "
                           "2007-02-23T23:59-23:59 2007-02-23T00:00+23:59 2000-01-01T00:00:00.000Z"),
    ("timestamps_calendar", "2000-02-29 2004-02-29T 1900-02-28 0001-01-01T00:00Z 9999-12-31T23:59:59.999999Z "
                            "2024-12-31T23:59:59.5-00:00 1970-01-01T00:00:00Z"),
    # symbols
    ("symbols", "abc _x $y a1 'a b' '' 'null' 'true' 'nan' '$ion_1_0x' '$10' 'with\\'quote' '\\u00e9t\\u00e9'"),
    # Inside a sexp: amazon-ion drops a top-level $2 (see top_level_system_symbols).
    ("symbol_ids", "($0 $1 $2 $3 $4 $5 $6 $7 $8 $9 $09)"),
    ("operators", "(+ - * / < <= > >= = == != ! # % & . ; ? @ ^ ` | ~) (a+b) (a-b) (x<=y) (- 1) (a -1) (...)"),
    ("operators_and_comments", "(a /* c */ b) (a // line\n b) (+/*c*/)"),
    ("sexp_misc", "() (()) (a (b (c))) (x::+ 'q'::y) (1 2.5 \"s\" 2007T {a:1} [x])"),
    # strings
    ("strings", "\"\" \"abc\" \"tab\\there\" \"quote\\\"s\" \"a\tb\" \"caf\u00e9 \u65e5\u672c \U0001F600\""),
    ("string_escapes", "\"\\0\\a\\b\\t\\n\\f\\r\\v\\\"\\'\\?\\\\\\/\" \"\\x41\\xe9\\u00e9\\u65e5\\U0001F600\""),
    ("string_surrogate_pair", "\"\\ud83d\\ude00\""),
    ("string_continuation", "\"abc\\\ndef\" '''x\\\ny''' '''\\\r\nz'''"),
    ("long_strings", "'''abc''' '''a''' '''b''' '''multi\nline''' '''a\r\nb\rc''' '''it's''' '''x'''/*c*/'''y'''//c\n'''z'''"),
    ("long_string_then_symbol", "'''a''' 'b' '''c''' '''d''' x"),
    # lobs
    ("clobs", "{{\"\"}} {{ \"abc\" }} {{\"\\x00\\xff\\n\\t\\\"\"}} {{ '''a''' '''b''' }} {{'''multi\nline'''}} {{\"\x7f\"}}"),
    ("blobs", "{{}} {{ }} {{YQ==}} {{ YWI= }} {{YWJj}} {{ Y W J j Z A = = }} {{+/+/}} {{\nAAEC\nAwQF\n}}"),
    # containers
    ("lists", "[] [1] [1,2,3] [1, 2, 3,] [[],[[]]] [a, 'b', \"c\", {d:1}, (e)] [ 1 , 2 ]"),
    ("structs", "{} {a:1} {a:1,} {'a b':1, \"c\":2, '''d''':3, '''e''' '''f''':4, $4:5} {a:{b:{c:{}}}}"),
    ("struct_duplicates", "{a:1, b:2, a:3, a:4}"),
    ("struct_annotated_values", "{a: x::1, b: x::y::[z::2]}"),
    ("struct_field_keywords_quoted", "{'null':1, 'true':2, 'false':3, 'nan':4, null_x:5, truex:6}"),
    # annotations
    ("annotations", "a::1 a::b::c::2 'q r'::3 $4::4 a :: /*c*/ b :: 5 $0::6 a::[b::c::{d:e::f}]"),
    ("annotated_nulls", "a::null b::null.int c::null.struct"),
    # version markers
    ("version_markers", "$ion_1_0 1 $ion_1_0 2 a::$ion_1_0 ($ion_1_0 $2) [$ion_1_0]"),
    ("not_version_markers", "a1::$ion_1_0 a2::$ion_1234_1 $ion_1_0::$ion_1_0 $ion_symbol_table"),
    # local symbol tables in text
    ("lst_text_symbols", "$ion_symbol_table::{symbols:[\"a\",\"b\",\"c d\"]} $10 $11 $12 {$10:$11} $12::x"),
    ("lst_text_append", "$ion_symbol_table::{symbols:[\"a\"]} $10 "
                        "$ion_symbol_table::{imports:$ion_symbol_table, symbols:[\"b\"]} $10 $11"),
    ("lst_text_replace", "$ion_symbol_table::{symbols:[\"a\"]} $ion_symbol_table::{symbols:[\"b\"]} $10"),
    ("lst_text_ivm_resets", "$ion_symbol_table::{symbols:[\"a\"]} $10 $ion_1_0 $9"),
    ("lst_text_open_content", "$ion_symbol_table::{symbols:[\"a\"], foo:1, bar:[x]} $10"),
    ("lst_text_imports_unknown", "$ion_symbol_table::{imports:[{name:\"foo\", version:1, max_id:3}], "
                                 "symbols:[\"b\"]} $10 $12 $13", PY_ONLY, TEXT_ONLY),
    ("lst_text_not_a_table", "x::$ion_symbol_table::{symbols:[\"a\"]} [$ion_symbol_table::{symbols:[\"a\"]}] "
                             "$ion_symbol_table::[1] $9"),
    ("lst_text_bad_fields_ignored", "$ion_symbol_table::{symbols:\"a\", imports:3} 1 $9"),
    # comments and whitespace
    ("comments", "// line\n1 /* block */ 2 /* multi\nline */ 3 // end"),
    ("whitespace", " \t\n\r\x0b\x0c1\x0b\x0c2", C_ONLY),
    ("byte_order_mark", "\ufeff1", C_ONLY),
    ("empty", ""),
    ("only_comments", "// nothing here\n/* or here */"),
    ("adjacent_tokens", "a\"b\"'c'[d](e){f:g}1[2](3){h:4}\"i\"5 '''j'''6"),
    ("numbers_then_comments", "1// c\n2/* c */3", PY_ONLY),
    # AppConfig feature flags
    ("flags_spec_sample", SPEC_FLAGS),
    ("flags_all_operators", FLAGS_WITH_OPERATORS),
    ("flags_basic_only", "'a'::'''{\"enabled\":true,\"color\":\"blue\"}''' 'b'::'''{\"enabled\":false}'''"),
]

# Cases where both reference readers disagree with the Ion 1.0 spec (or with each other) and the
# expectation is written by hand. Each notes what the references do.
HAND_TEXT = [
    # Only the unquoted identifier $ion_1_0 is a version marker; ion-tests ("$ion_1_0 is an IVM
    # while $2 is not") and ion-rust ("'$ion_1_0' // A quoted symbol, not an IVM") read these as
    # symbols. Both amazon-ion readers silently drop them.
    ("top_level_system_symbols", "$2 '$ion_1_0' 1",
     [{"type": "symbol", "annotations": [], "value": {"text": "$ion_1_0"}},
      {"type": "symbol", "annotations": [], "value": {"text": "$ion_1_0"}},
      {"type": "int", "annotations": [], "value": "1"}]),
    # A non-string entry in "symbols" still takes an ID, whose text is unknown (ion-c agrees on
    # values; the pure-Python reader forgets to allocate the slot).
    ("lst_text_gaps", "$ion_symbol_table::{symbols:[\"a\", 1, null.string, \"b\"]} $10 $11 $12 $13",
     [{"type": "symbol", "annotations": [], "value": {"text": "a"}},
      {"type": "symbol", "annotations": [], "value": {"unknown": True, "import": None}},
      {"type": "symbol", "annotations": [], "value": {"unknown": True, "import": None}},
      {"type": "symbol", "annotations": [], "value": {"text": "b"}}]),
]

# Binary-only inputs: encodings amazon-ion does not write itself (4-byte floats, NOP padding,
# ordered structs, non-minimal lengths, annotation wrappers with long lengths).

def varuint(n):
    out = [n & 0x7F | 0x80]
    n >>= 7
    while n:
        out.insert(0, n & 0x7F)
        n >>= 7
    return bytes(out)


GOOD_BINARY = [
    ("bin_float32", IVM + b"\x44\x3f\xc0\x00\x00" + b"\x44\x7f\x80\x00\x00" + b"\x44\xff\xc0\x00\x00"
                    + b"\x44\x00\x00\x00\x01" + b"\x44\x80\x00\x00\x00" + b"\x40"),
    ("bin_nop_pads", IVM + b"\x00" + b"\x01\xff" + b"\x0e\x81\x00" + b"\x21\x01" + b"\xb3\x00\x21\x02"
                     + b"\xd5\x84\x01\xff\x80\x00" + b"\xd3\x84\x21\x03"),
    ("bin_ordered_struct", IVM + b"\xd1\x86\x84\x21\x01\x85\x21\x02"),
    ("bin_long_lengths", IVM + b"\x8e\x83abc" + b"\x2e\x81\x05" + b"\xbe\x82\x21\x01" + b"\xde\x83\x84\x21\x07"),
    ("bin_padded_ints", IVM + b"\x22\x00\x01" + b"\x32\x00\x01" + b"\x29\x00\x00\x00\x00\x00\x00\x00\x00\x2a"
                        + b"\x28\x80\x00\x00\x00\x00\x00\x00\x00" + b"\x38\x80\x00\x00\x00\x00\x00\x00\x00"),
    ("bin_decimals", IVM + b"\x50" + b"\x51\x80" + b"\x52\x80\x80" + b"\x52\xc1\x0f" + b"\x53\xc3\x81\x00"
                     + b"\x52\x81\x8f" + b"\x51\xc2"),
    ("bin_symbol_encodings", IVM + b"\x70" + b"\x71\x04" + b"\x72\x00\x04" + b"\x7f"),
    ("bin_annotation_long", IVM + b"\xee\x85\x82\x84\x85\x21\x01"),
    ("bin_timestamp_fields", IVM
        + b"\x63\xc0\x0f\xd7"                                    # 2007T
        + b"\x64\xc0\x0f\xd7\x82"                                # 2007-02T
        + b"\x65\xc0\x0f\xd7\x82\x97"                            # 2007-02-23
        + b"\x67\x80\x0f\xd7\x82\x97\x8c\x8e"                    # 2007-02-23T12:14Z
        + b"\x68\x80\x0f\xd7\x82\x97\x8c\x8e\xa1"                # 2007-02-23T12:14:33Z
        + b"\x6a\x80\x0f\xd7\x82\x97\x8c\x8e\xa1\xc3\x4f"        # 2007-02-23T12:14:33.079Z
        # 2007-02-23T12:14:33.000-08:00: UTC 20:14, offset -480 (VarInt 43 E0), fraction 0d-3
        + b"\x6a\x43\xe0\x0f\xd7\x82\x97\x94\x8e\xa1\xc3"
        + b"\x6b\x43\xe0\x0f\xd7\x82\x97\x94\x8e\xa1\xc3\x00"     # the same, coefficient byte 00
        + b"\x67\xc0\x0f\xd7\x82\x97\x8c\x8e"                    # 2007-02-23T12:14-00:00
        + b"\x67\x81\x0f\xd7\x82\x97\x8c\x8e"                    # 2007-02-23T12:15+00:01
        + b"\x67\x80\x0f\xd7\x8c\x9f\x97\xbb"                    # 2007-12-31T23:59Z
        + b"\x69\x43\xe0\x0f\xd8\x81\x81\x87\xbb\xbb"          # 2008-01-01T07:59:59Z at -08:00
    ),
]


def lst_binary(imports, symbols, body):
    """A binary document whose local symbol table has these imports (name, version, max_id or
    None) and local symbols, followed by raw value bytes."""
    def ion_string(text):
        raw = text.encode()
        return (bytes([0x80 | len(raw)]) if len(raw) < 14 else b"\x8e" + varuint(len(raw))) + raw

    def ion_int(n):
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
        return bytes([0x20 | len(raw)]) + raw

    def container(type_nibble, content):
        if len(content) < 14:
            return bytes([type_nibble << 4 | len(content)]) + content
        return bytes([type_nibble << 4 | 14]) + varuint(len(content)) + content

    fields = b""
    if imports is not None:
        if imports == "append":
            fields += varuint(6) + b"\x71\x03"
        else:
            entries = b""
            for name, version, max_id in imports:
                entry = varuint(4) + ion_string(name) + varuint(5) + ion_int(version)
                if max_id is not None:
                    entry += varuint(8) + ion_int(max_id)
                entries += container(0xD, entry)
            fields += varuint(6) + container(0xB, entries)
    if symbols is not None:
        fields += varuint(7) + container(0xB, b"".join(ion_string(s) for s in symbols))
    struct_bytes = container(0xD, fields)
    annotated = varuint(1) + varuint(3) + struct_bytes
    return IVM + container(0xE, annotated) + body


# ---------------------------------------------------------------------------------------------
# Random documents: value trees built with a fixed seed, written to text and binary by ion-c
# (so the reader also sees the writer's own spellings of every type).

def random_documents(count=40, seed=20240101):
    import random
    from amazon.ion.core import Timestamp, TimestampPrecision
    from amazon.ion.simple_types import (IonPyBool, IonPyBytes, IonPyDecimal, IonPyDict, IonPyFloat, IonPyInt,
                                         IonPyList, IonPyNull, IonPySymbol, IonPyText, IonPyTimestamp)
    from datetime import timedelta, timezone

    rng = random.Random(seed)
    alphabet = ["a", "Z", "_", "$", "0", " ", "'", '"', "\\", "\n", "\t", "\x00", "\x7f", "\u00e9", "\u65e5",
                "\U0001F600", "/", "*", ":", "{", "}", "[", "]", "(", ")", ","]

    def text(max_len=8):
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_len)))

    def annotate(value):
        if rng.random() < 0.25:
            value.ion_annotations = tuple(text(5) for _ in range(rng.randint(1, 3)))
        return value

    def timestamp():
        precision = rng.choice(list(TimestampPrecision))
        year = rng.randint(1, 9999)
        month = rng.randint(1, 12) if precision.value >= 1 else 1
        day = rng.randint(1, 28) if precision.value >= 2 else 1
        hour, minute, second, micro, frac = 0, 0, 0, 0, None
        tz = None
        if precision.value >= 3:
            hour, minute = rng.randint(0, 23), rng.randint(0, 59)
            choice = rng.random()
            if choice < 0.3:
                tz = timezone.utc
            elif choice < 0.8:
                tz = timezone(timedelta(minutes=rng.randint(-1439, 1439)))
        fractional_precision = None
        if precision.value >= 4:
            second = rng.randint(0, 59)
            if rng.random() < 0.6:
                fractional_precision = rng.randint(1, 6)
                micro = rng.randint(0, 10 ** fractional_precision - 1) * 10 ** (6 - fractional_precision)
        # Keep the UTC instant inside years 1-9999 so both readers can hold it.
        if tz is not None and (year == 1 or year == 9999):
            year = 2000
        ts = Timestamp(year, month, day, hour, minute, second, micro, tz, precision=precision,
                       fractional_precision=fractional_precision)
        return IonPyTimestamp.from_value(IonType.TIMESTAMP, ts)

    def scalar():
        kind = rng.randrange(12)
        if kind == 0:
            return IonPyNull.from_value(rng.choice(list(IonType)), None)
        if kind == 1:
            return IonPyBool.from_value(IonType.BOOL, rng.random() < 0.5)
        if kind == 2:
            bits = rng.choice([8, 32, 63, 64, 65, 128, 300])
            return IonPyInt.from_value(IonType.INT, rng.randint(-(2 ** bits), 2 ** bits))
        if kind == 3:
            choice = rng.random()
            if choice < 0.1:
                value = rng.choice([float("inf"), float("-inf"), -0.0, 0.0, 5e-324, 1.7976931348623157e308])
            else:
                value = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
                if math.isnan(value):
                    value = 1.5
            return IonPyFloat.from_value(IonType.FLOAT, value)
        if kind == 4:
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))
            value = Decimal((rng.randint(0, 1), tuple(int(d) for d in digits), rng.randint(-60, 60)))
            return IonPyDecimal.from_value(IonType.DECIMAL, value)
        if kind == 5:
            return timestamp()
        if kind == 6:
            return IonPySymbol.from_value(IonType.SYMBOL, SymbolToken(text(10), None))
        if kind in (7, 8):
            return IonPyText.from_value(IonType.STRING, text(30))
        if kind == 9:
            return IonPyBytes.from_value(IonType.CLOB, bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 20))))
        return IonPyBytes.from_value(IonType.BLOB, bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40))))

    def value(depth):
        if depth < 4 and rng.random() < 0.3:
            kind = rng.choice([IonType.LIST, IonType.SEXP, IonType.STRUCT])
            if kind is IonType.STRUCT:
                container = IonPyDict.from_value(IonType.STRUCT, {})
                for index in range(rng.randint(0, 5)):
                    container[text(6) + str(index)] = value(depth + 1)
            else:
                container = IonPyList.from_value(kind, [value(depth + 1) for _ in range(rng.randint(0, 5))])
            return annotate(container)
        return annotate(scalar())

    for number in range(count):
        yield f"random_{number:02}", [value(0) for _ in range(rng.randint(1, 6))]


# ---------------------------------------------------------------------------------------------

def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def dump_json(path, obj):
    write(path, (json.dumps(obj, indent=1, ensure_ascii=False, sort_keys=True) + "\n").encode())


class Failure(Exception):
    pass


def expect_from(data, catalog_tables=(), check_c=True):
    catalog = py_catalog(catalog_tables) if catalog_tables else None
    events = read_events(data, catalog)
    tree = tree_from_events(events)
    if check_c:
        try:
            c_result = c_tree(data, catalog)
        except Exception as e:  # noqa: BLE001
            raise Failure(f"ion-c rejects what amazon-ion's Python reader accepts: {e}")
        if not same_modulo_c(tree, c_result):
            raise Failure("ion-c and the Python reader disagree:\n"
                          + json.dumps(normalise(tree), sort_keys=True)[:600] + "\n"
                          + json.dumps(normalise(c_result), sort_keys=True)[:600])
    return tree, events


def strip_unknown_sids(tree):
    return json.loads(json.dumps(tree))


def main():
    good_dir = os.path.join(OUT, "good")
    bad_dir = os.path.join(OUT, "bad")
    for d in (good_dir, bad_dir):
        if os.path.isdir(d):
            shutil.rmtree(d)
    failures = []
    count_text = count_binary = 0

    def record(name, expected, text=None, binary=None, catalog=None, source="amazon-ion", note=None):
        nonlocal count_text, count_binary
        doc = {"source": source, "values": expected}
        if catalog is not None:
            doc["catalog"] = catalog
        if note:
            doc["note"] = note
        if text is not None:
            write(os.path.join(good_dir, name + ".ion"), text)
            count_text += 1
        if binary is not None:
            write(os.path.join(good_dir, name + ".10n"), binary)
            count_binary += 1
        dump_json(os.path.join(good_dir, name + ".json"), doc)

    for name, text, *options in GOOD_TEXT:
        data = text.encode("utf-8")
        try:
            if C_ONLY in options:
                tree = c_tree(data)
                binary = simpleion.dumps(simpleion.loads(data, single_value=False), binary=True,
                                         sequence_as_stream=True)
                binary_tree = c_tree(binary)
                if binary_tree != tree:
                    raise Failure("text and binary trees differ")
                record(name, tree, text=data, binary=binary, source="ion-c")
                continue
            tree, events = expect_from(data, check_c=PY_ONLY not in options)
            if TEXT_ONLY in options:
                record(name, tree, text=data)
                continue
            binary = binary_from_events(events)
            binary_tree, _ = expect_from(binary, check_c=PY_ONLY not in options)
            if binary_tree != tree:
                raise Failure("text and binary trees differ:\n" + json.dumps(tree)[:500] + "\n" + json.dumps(binary_tree)[:500])
            record(name, tree, text=data, binary=binary)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}: {e}")

    for name, values in random_documents():
        try:
            text = simpleion.dumps(values, binary=False, sequence_as_stream=True).encode()
            binary = simpleion.dumps(values, binary=True, sequence_as_stream=True)
            tree, _ = expect_from(text)
            binary_tree, _ = expect_from(binary)
            if binary_tree != tree:
                raise Failure("text and binary trees differ")
            record(name, tree, text=text, binary=binary)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}: {e}")

    for name, text, expected in HAND_TEXT:
        record(name, expected, text=text.encode(), source="hand",
               note="amazon-ion's readers disagree with the Ion 1.0 spec here; see the generator")

    for name, data in GOOD_BINARY:
        try:
            tree, _ = expect_from(data)
            record(name, tree, binary=data)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}: {e}")

    # Shared symbol tables through a catalog (SPEC section 8).
    flag_text = FLAGS_WITH_OPERATORS.encode()
    flag_events = read_events(flag_text)
    flags_binary = binary_from_events(flag_events, imports=[OPS, ANNS])
    full_catalog = [shared_json("ops", 1, OPS_TEXTS), shared_json("anns", 1, ANNS_TEXTS)]
    partial_catalog = [shared_json("ops", 1, [None, None, None, "eq"])]
    for name, tables, catalog in [
        ("flags_binary_catalog", [OPS, ANNS], full_catalog),
        ("flags_binary_no_catalog", [], None),
        ("flags_binary_partial_catalog", None, partial_catalog),
    ]:
        try:
            if tables is None:
                tables = [shared_symbol_table("ops", 1, [None, None, None, "eq"])] if False else []
                # amazon-ion cannot register a table with gaps; derive from the no-catalog tree.
                tree, _ = expect_from(flags_binary, [], check_c=False)
                tree = json.loads(json.dumps(tree).replace(
                    '{"unknown": true, "import": {"name": "ops", "position": 4}}', '{"text": "eq"}'))
                record(name, tree, binary=flags_binary, catalog=catalog, source="amazon-ion+hand",
                       note="the no-catalog tree with ops#4 resolved to eq by the partial catalog")
                continue
            tree, _ = expect_from(flags_binary, tables, check_c=bool(tables))
            record(name, tree, binary=flags_binary, catalog=catalog)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}: {e}")
    # The same imports declared in text, with $N symbol IDs.
    text_lst = ("$ion_symbol_table::{imports:[{name:\"ops\", version:1, max_id:23}, {name:\"anns\", version:1, max_id:12}],"
                " symbols:[\"Tier1\", \"group\"]}\n"
                "$45::[ ($13 $46 \"Tier1\"), ($24::25 $25::$46) ]\n")
    try:
        tree, _ = expect_from(text_lst.encode(), [OPS, ANNS], check_c=False)
        record("lst_text_shared_imports_catalog", tree, text=text_lst.encode(), catalog=full_catalog)
        tree, _ = expect_from(text_lst.encode(), [], check_c=False)
        record("lst_text_shared_imports_no_catalog", tree, text=text_lst.encode())
    except Exception as e:  # noqa: BLE001
        failures.append(f"lst_text_shared_imports: {e}")
    # Imports in the catalog, one that is not (reserved unknown slots), a version fallback, and LST append.
    mixed_events = read_events(b"[eq, pct, m2, m5, local1] {and: local2, $0: m1}")
    mixed = binary_from_events(mixed_events, imports=[OPS, MISSING, ANNS])
    try:
        tree, _ = expect_from(mixed, [OPS, ANNS], check_c=False)
        record("bin_imports_missing_table", tree, binary=mixed, catalog=full_catalog)
    except Exception as e:  # noqa: BLE001
        failures.append(f"bin_imports_missing_table: {e}")
    handmade = [
        # ops v2 asked, only v1 known: max_id given, so v1's texts are used for the first 5 IDs.
        ("bin_import_version_fallback", lst_binary([("ops", 2, 5)], ["x"], b"\x71\x0d\x71\x0e\x71\x0f"),
         [OPS], full_catalog),
        # max_id shorter than the table truncates it; the local symbol follows at 10 + 2.
        ("bin_import_max_id_truncates", lst_binary([("anns", 1, 2)], ["x"], b"\x71\x0a\x71\x0b\x71\x0c"),
         [ANNS], full_catalog),
        # max_id longer than the table pads it with unknown slots.
        ("bin_import_max_id_pads", lst_binary([("anns", 1, 14)], ["x"], b"\x71\x15\x71\x16\x71\x17\x71\x18"),
         [ANNS], full_catalog),
        # No max_id: the exact version from the catalog decides the size.
        ("bin_import_no_max_id", lst_binary([("anns", 1, None)], ["x"], b"\x71\x15\x71\x16"),
         [ANNS], full_catalog),
        # LST append: the second table keeps the first's symbols and adds its own.
        ("bin_lst_append", lst_binary(None, ["a"], b"\x71\x0a")
         + lst_binary("append", ["b"], b"\x71\x0a\x71\x0b")[4:], [], None),
        # A later table replaces the earlier one; a new version marker resets to the system table.
        ("bin_lst_replace_and_reset", lst_binary(None, ["a"], b"\x71\x0a") + lst_binary(None, ["b"], b"\x71\x0a")[4:]
         + IVM + b"\x71\x09", [], None),
        # Non-string entries take an ID whose text is unknown.
        ("bin_lst_gaps", lst_binary(None, ["a"], b"")[:-0 or None], [], None),
    ]
    for name, data, tables, catalog in handmade:
        if name == "bin_lst_gaps":
            # symbols: ["a", 1, "b"] written by hand: list of string a, int 1, string b.
            fields = varuint(7) + bytes([0xB6]) + b"\x81a" + b"\x21\x01" + b"\x81b"
            struct_bytes = bytes([0xD0 | len(fields)]) + fields
            annotated = varuint(1) + varuint(3) + struct_bytes
            data = IVM + bytes([0xE0 | len(annotated)]) + annotated + b"\x71\x0a\x71\x0b\x71\x0c"
            expected = [{"type": "symbol", "annotations": [], "value": {"text": "a"}},
                         {"type": "symbol", "annotations": [], "value": {"unknown": True, "import": None}},
                         {"type": "symbol", "annotations": [], "value": {"text": "b"}}]
            record(name, expected, binary=data, source="hand",
                   note="amazon-ion's Python reader skips non-string entries; ion-c and the spec keep the slot")
            continue
        try:
            tree, _ = expect_from(data, tables, check_c=False)
            record(name, tree, binary=data, catalog=catalog)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}: {e}")

    bad_count = write_negative(bad_dir)
    if failures:
        print("FAILED:\n" + "\n".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"good: {count_text} text, {count_binary} binary; bad: {bad_count}")


# ---------------------------------------------------------------------------------------------
# Negative vectors: (name, bytes, binary?, kind, reason). The reference readers are asked too;
# where they accept, index.json says so and why we reject.

def depth_bomb_text(n):
    return ("[" * n + "]" * n).encode()


def depth_bomb_binary(n):
    value = b"\xb0"
    for _ in range(n - 1):
        value = (bytes([0xB0 | len(value)]) if len(value) < 14 else b"\xbe" + varuint(len(value))) + value
    return IVM + value


BAD = [
    # text: unterminated
    ("unterminated_string", b'"abc', "malformed", "string without its closing quote"),
    ("unterminated_long_string", b"'''abc", "malformed", "long string without closing '''"),
    ("unterminated_symbol", b"'abc", "malformed", "quoted symbol without closing quote"),
    ("unterminated_comment", b"1 /* x", "malformed", "block comment without */"),
    ("unterminated_list", b"[1, 2", "malformed", "list without ]"),
    ("unterminated_struct", b"{a:1", "malformed", "struct without }"),
    ("unterminated_sexp", b"(a b", "malformed", "s-expression without )"),
    ("unterminated_blob", b"{{ YQ== ", "malformed", "blob without }}"),
    ("unterminated_clob", b'{{ "a" ', "malformed", "clob without }}"),
    ("dangling_annotation", b"a::", "malformed", "annotation with no value (ion-c accepts this)"),
    # text: bad timestamps
    ("ts_feb_29_non_leap", b"2007-02-29", "malformed", "no 29 February in 2007"),
    ("ts_month_13", b"2007-13T", "malformed", "month 13"),
    ("ts_month_0", b"2007-00T", "malformed", "month 0"),
    ("ts_day_0", b"2007-02-00", "malformed", "day 0"),
    ("ts_no_offset", b"2007-02-23T12:14", "malformed", "a time needs an offset"),
    ("ts_hour_24", b"2007-02-23T24:00Z", "malformed", "hour 24"),
    ("ts_second_60", b"2007-02-23T12:14:60Z", "malformed", "no leap seconds in Ion"),
    ("ts_empty_fraction", b"2007-02-23T12:14:33.Z", "malformed", "fraction needs digits"),
    ("ts_offset_24h", b"2007-02-23T12:14+24:00", "malformed", "offset of 24 hours"),
    ("ts_year_0", b"0000T", "malformed", "year 0"),
    ("ts_short_hour", b"2007-02-23T1:14Z", "malformed", "one-digit hour"),
    ("ts_lowercase_t", b"2007-02-23t12:14Z", "malformed", "lowercase t"),
    ("ts_hour_only", b"2007-02-23T12Z", "malformed", "hour without minutes"),
    ("ts_no_t_month", b"2007-02", "malformed", "month precision needs T"),
    ("ts_offset_no_colon", b"2007-02-23T12:14+0800", "malformed", "offset without colon"),
    # text: bad numbers
    ("int_leading_zero", b"01", "malformed", "leading zero"),
    ("int_double_underscore", b"1__0", "malformed", "two underscores"),
    ("int_trailing_underscore", b"1_", "malformed", "trailing underscore"),
    ("int_hex_leading_underscore", b"0x_1", "malformed", "underscore after 0x"),
    ("int_plus_sign", b"+1", "malformed", "ints have no + sign"),
    ("int_double_minus", b"--1", "malformed", "two minus signs"),
    ("hex_without_digits", b"0x", "malformed", "0x with no digits (ion-c reads 0)"),
    ("float_without_exponent_digits", b"1e", "malformed", "exponent with no digits (ion-c reads 1.0)"),
    ("decimal_without_exponent_digits", b"1.0d", "malformed", "exponent with no digits"),
    ("decimal_underscore_after_dot", b"1._5", "malformed", "underscore right after the point"),
    ("number_then_operator", b"(1+2)", "malformed", "a number must end at a delimiter"),
    ("number_dot_dot", b"1.2.3", "malformed", "two decimal points"),
    ("nan_signed", b"+nan", "malformed", "nan has no sign"),
    ("inf_unsigned_suffix", b"-infx", "malformed", "-inf followed by letters"),
    # text: bad UTF-8 and characters
    ("utf8_invalid_byte", b'"\xff"', "malformed", "0xFF is never UTF-8"),
    ("utf8_overlong", b'"\xc0\xaf"', "malformed", "overlong encoding"),
    ("utf8_surrogate", b'"\xed\xa0\x80"', "malformed", "encoded surrogate"),
    ("utf8_truncated", b'"\xe2\x82"', "malformed", "truncated sequence"),
    ("utf8_in_symbol", b"abc\xff", "malformed", "invalid UTF-8 outside strings"),
    ("raw_newline_in_string", b'"a\nb"', "malformed", "newline in a short string"),
    ("raw_newline_in_symbol", b"'a\nb'", "malformed", "newline in a quoted symbol"),
    ("control_char_in_string", b'"a\x01b"', "malformed", "unescaped control character"),
    ("control_char_in_long_string", b"'''a\x01b'''", "malformed", "unescaped control character"),
    ("nul_byte", b"1 \x00 2", "malformed", "NUL is not whitespace (ion-c skips it)"),
    # text: bad escapes
    ("escape_unknown", b'"\\q"', "malformed", "no \\q escape"),
    ("escape_bad_hex", b'"\\xzz"', "malformed", "\\x needs two hex digits"),
    ("escape_short_u", b'"\\u00"', "malformed", "\\u needs four hex digits"),
    ("escape_lone_high_surrogate", b'"\\uD800"', "malformed", "unpaired surrogate"),
    ("escape_lone_low_surrogate", b'"\\uDC00"', "malformed", "unpaired surrogate"),
    ("escape_beyond_unicode", b'"\\U00110000"', "malformed", "beyond U+10FFFF"),
    # text: bad tokens and structure
    ("null_unknown_type", b"null.foo", "malformed", "no such null type"),
    ("null_space_type", b"null .int", "malformed", "null. must be followed directly by the type"),
    ("keyword_annotation", b"true::1", "malformed", "keywords cannot be annotations"),
    ("null_annotation", b"null::1", "malformed", "keywords cannot be annotations"),
    ("keyword_field_name", b"{null:1}", "malformed", "keywords cannot be field names"),
    ("struct_annotated_field_name", b"{a::b}", "malformed", "field name with ::"),
    ("struct_missing_comma", b"{a:1 b:2}", "malformed", "fields need commas"),
    ("struct_missing_value", b"{a:}", "malformed", "field without a value"),
    ("struct_missing_name", b"{:1}", "malformed", "field without a name"),
    ("struct_only_comma", b"{,}", "malformed", "empty struct with a comma"),
    ("struct_string_annotation", b'{"a"::1}', "malformed", "strings cannot be annotations"),
    ("list_missing_comma", b"[1 2]", "malformed", "list elements need commas"),
    ("list_double_comma", b"[1,,2]", "malformed", "empty element"),
    ("list_only_comma", b"[,]", "malformed", "empty list with a comma"),
    ("sexp_comma", b"(a,b)", "malformed", "commas are not allowed in s-expressions"),
    ("operator_outside_sexp", b"[+]", "malformed", "operators only inside s-expressions"),
    ("operator_annotation", b"(+::x)", "malformed", "operators cannot be annotations"),
    ("top_level_operator", b"<", "malformed", "operators only inside s-expressions"),
    ("string_annotation", b'"a"::b', "malformed", "strings cannot be annotations"),
    ("stray_close", b"1 ]", "malformed", "unbalanced ]"),
    ("lone_slash", b"1 / 2", "malformed", "/ outside an s-expression and not a comment"),
    # text: lobs
    ("clob_two_short_strings", b'{{ "a" "b" }}', "malformed", "a clob holds one short string"),
    ("clob_non_ascii", '{{"\u00e9"}}'.encode(), "malformed", "clob text must be ASCII"),
    ("clob_unicode_escape", b'{{"\\u0041"}}', "malformed", "no \\u in clobs"),
    ("clob_comment", b'{{ /*c*/ "x" }}', "malformed", "no comments in lobs"),
    ("blob_bad_padding", b"{{ YQ= }}", "malformed", "base64 length not a multiple of 4"),
    ("blob_only_padding", b"{{ ==== }}", "malformed", "padding without data"),
    ("blob_missing_padding", b"{{ YWI }}", "malformed", "base64 length not a multiple of 4"),
    ("blob_bad_char", b"{{ YW*= }}", "malformed", "not a base64 character"),
    ("blob_padding_in_middle", b"{{ YQ==YQ== }}", "malformed", "padding before the end (ion-c accepts)"),
    ("lob_space_in_close", b"{{ YQ== } }", "malformed", "}} must be adjacent"),
    # text: versions and symbols
    ("ivm_unsupported_1_1", b"$ion_1_1", "unsupportedVersion", "Ion 1.1 is not supported"),
    ("ivm_unsupported_2_0", b"$ion_2_0 1", "unsupportedVersion", "unknown Ion version"),
    ("symbol_id_out_of_range", b"$10", "symbolOutOfRange", "no symbol 10 in the system table"),
    ("symbol_id_huge", b"$99999999999999999999999", "symbolOutOfRange", "symbol ID past any table"),
    ("field_name_id_out_of_range", b"{$99:1}", "symbolOutOfRange", "field name ID past the table"),
    ("annotation_id_out_of_range", b"$99::1", "symbolOutOfRange", "annotation ID past the table"),
    ("lst_id_after_ivm", b'$ion_symbol_table::{symbols:["a"]} $ion_1_0 $10', "symbolOutOfRange",
     "the version marker resets the table"),
    ("lst_duplicate_symbols", b'$ion_symbol_table::{symbols:["a"], symbols:["b"]} 1', "invalidSymbolTable",
     "two symbols fields"),
    ("lst_duplicate_imports", b'$ion_symbol_table::{imports:[], imports:[]} 1', "invalidSymbolTable",
     "two imports fields"),
    ("lst_import_unresolvable", b'$ion_symbol_table::{imports:[{name:"nope", version:1}]} 1', "invalidSymbolTable",
     "an import with no max_id must be in the catalog"),
    ("lst_import_too_large", b'$ion_symbol_table::{imports:[{name:"big", version:1, max_id:200000}]} 1',
     "limitExceeded", "reserves more symbols than the 100000 limit"),
    # text: bounds
    ("depth_bomb_text", depth_bomb_text(65), "limitExceeded", "65 nested lists; the limit is 64"),
    ("depth_bomb_text_deep", depth_bomb_text(100_000), "limitExceeded", "100000 nested lists"),
    ("depth_bomb_struct", b"{a:" * 70 + b"1" + b"}" * 70, "limitExceeded", "70 nested structs"),
    # binary
    ("bvm_bad_minor", b"\xe0\x01\x01\xea", "unsupportedVersion", "Ion 1.1 binary marker"),
    ("bvm_bad_major", b"\xe0\x02\x00\xea", "unsupportedVersion", "Ion 2.0 binary marker"),
    ("bvm_truncated", b"\xe0\x01\x00", "unsupportedVersion", "version marker cut short"),
    ("bvm_mid_stream_bad", IVM + b"\x20\xe0\x01\x01\xea", "unsupportedVersion", "bad marker after a value"),
    ("bin_truncated_int", IVM + b"\x21", "malformed", "int length 1 with no byte"),
    ("bin_truncated_string", IVM + b"\x88ab", "malformed", "string length 8 with 2 bytes"),
    ("bin_list_length_beyond_end", IVM + b"\xb5\x21\x01", "malformed", "list longer than the input"),
    ("bin_varuint_length_beyond_end", IVM + b"\x8e\x90a", "malformed", "VarUInt length past the end"),
    ("bin_varuint_unterminated", IVM + b"\x8e\x00\x00", "malformed", "VarUInt without its end bit"),
    ("bin_varuint_huge", IVM + b"\x8e" + b"\x7f" * 12 + b"\xff", "malformed", "VarUInt overflows 64 bits"),
    ("bin_child_beyond_parent", IVM + b"\xb2\x83ab", "malformed", "element runs past its list"),
    ("bin_bad_utf8_string", IVM + b"\x82\xff\xfe", "malformed", "string is not UTF-8"),
    ("bin_negative_zero_int", IVM + b"\x30", "malformed", "negative zero int"),
    ("bin_negative_zero_int_padded", IVM + b"\x31\x00", "malformed", "negative zero int"),
    ("bin_typecode_15", IVM + b"\xf0", "malformed", "reserved type code F"),
    ("bin_bool_length_2", IVM + b"\x12", "malformed", "bool with L=2"),
    ("bin_float_length_3", IVM + b"\x43\x00\x00\x00", "malformed", "float of 3 bytes"),
    ("bin_timestamp_empty", IVM + b"\x60", "malformed", "timestamp with no fields"),
    ("bin_timestamp_hour_no_minute", IVM + b"\x66\x80\x0f\xd7\x82\x97\x8c", "malformed", "hour without minute"),
    ("bin_timestamp_month_13", IVM + b"\x64\xc0\x0f\xd7\x8d", "malformed", "month 13"),
    ("bin_timestamp_fraction_one", IVM + b"\x6a\x80\x0f\xd7\x82\x97\x8c\x8e\xa1\xc1\x0a", "malformed",
     "fraction 10d-1 is not below 1"),
    ("bin_timestamp_fraction_negative", IVM + b"\x6a\x80\x0f\xd7\x82\x97\x8c\x8e\xa1\xc1\x81", "malformed",
     "negative fraction"),
    ("bin_annotation_wrapper_nop", IVM + b"\xe3\x81\x84\x00", "malformed", "annotation on a NOP pad"),
    ("bin_annotation_wrapper_nested", IVM + b"\xe6\x81\x84\xe3\x81\x84\x20", "malformed", "wrapper in a wrapper"),
    ("bin_annotation_wrapper_two_values", IVM + b"\xe4\x81\x84\x20\x20", "malformed", "wrapper length with two values"),
    ("bin_annotation_wrapper_no_annotations", IVM + b"\xe3\x80\x20\x20", "malformed", "annot_length 0"),
    ("bin_annotation_wrapper_short", IVM + b"\xe2\x81\x84", "malformed", "wrapper too short for a value"),
    ("bin_annotation_in_container_e0", IVM + b"\xb1\xe0", "malformed", "0xE0 inside a list"),
    ("bin_ordered_struct_empty", IVM + b"\xd1\x80", "malformed", "ordered struct with length 0"),
    ("bin_struct_field_without_value", IVM + b"\xd1\x81\x84", "malformed", "field name then nothing"),
    ("bin_symbol_out_of_range", IVM + b"\x71\x0a", "symbolOutOfRange", "symbol 10 with only system symbols"),
    ("bin_annotation_out_of_range", IVM + b"\xe3\x81\x8a\x20", "symbolOutOfRange", "annotation symbol 10"),
    ("bin_field_name_out_of_range", IVM + b"\xd2\x8a\x20", "symbolOutOfRange", "field name symbol 10"),
    ("bin_lst_import_unresolvable", lst_binary([("nope", 1, None)], None, b"\x20"), "invalidSymbolTable",
     "an import with no max_id must be in the catalog"),
    ("bin_lst_import_too_large", lst_binary([("big", 1, 1 << 40)], None, b"\x20"), "limitExceeded",
     "import max_id past the symbol limit"),
    ("bin_lst_id_beyond_import", lst_binary([("ops", 1, 23)], ["x"], b"\x71\x22"), "symbolOutOfRange",
     "symbol 34 with 9 + 23 + 1 symbols"),
    ("bin_depth_bomb", depth_bomb_binary(65), "limitExceeded", "65 nested lists"),
    ("bin_depth_bomb_deep", depth_bomb_binary(3000), "limitExceeded", "3000 nested lists"),
    ("bin_int_too_many_digits", IVM + b"\x2e" + varuint(3000) + b"\x01" * 3000, "limitExceeded",
     "int of 3000 bytes is over the 4096-digit limit"),
]


def reference_verdicts(data):
    """What each reference reader does with the input: "rejects", "accepts" or "hangs". Each
    runs in a child process with a time limit: ion-c and the pure-Python reader both spin
    forever on some truncated input."""
    verdicts = {}
    for reader, key in (("c", "ionC"), ("py", "ionPython")):
        try:
            result = subprocess.run([sys.executable, os.path.abspath(__file__), "--probe", reader],
                                    input=data, capture_output=True, timeout=10)
            verdicts[key] = "accepts" if result.returncode == 0 else "rejects"
        except subprocess.TimeoutExpired:
            verdicts[key] = "hangs"  # or took over 10 s
    return verdicts


def probe(reader):
    data = sys.stdin.buffer.read()
    try:
        if reader == "c":
            simpleion.loads(data, single_value=False)
        else:
            simpleion.load_python(BytesIO(data), single_value=False)
    except Exception:  # noqa: BLE001
        sys.exit(1)
    sys.exit(0)


def write_negative(bad_dir):
    index = {}
    for name, data, kind, reason in BAD:
        binary = data[:1] == b"\xe0"
        filename = name + (".10n" if binary else ".ion")
        write(os.path.join(bad_dir, filename), data)
        index[filename] = {"kind": kind, "reason": reason, "reference": reference_verdicts(data)}
    dump_json(os.path.join(bad_dir, "index.json"), index)
    return len(BAD)


if __name__ == "__main__":
    sys.setrecursionlimit(20000)
    if len(sys.argv) == 3 and sys.argv[1] == "--probe":
        probe(sys.argv[2])
    main()
