"""Okta's filter/search expression language (SCIM-like): parse once, then run in SQL or in Python.

Grammar: expr = term ("or" term)*; term = factor ("and" factor)*;
factor = "(" expr ")" | attribute "pr" | attribute op value; op = eq ne sw co ew gt ge lt le;
value = "string" | number | true | false | null.
"""

import re

from .errors import OktaError

OPERATORS = {"eq", "ne", "sw", "co", "ew", "gt", "ge", "lt", "le", "pr"}
_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))')


def invalid(expression, reason):
    return OktaError("E0000031", causes=[f"Invalid search criteria {expression!r}: {reason}"])


def _tokenize(text):
    tokens = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise invalid(text, f"unexpected character at position {position}")
        position = match.end()
        if match.group(1):
            tokens.append(("(", None))
        elif match.group(2):
            tokens.append((")", None))
        elif match.group(3) is not None:
            tokens.append(("string", re.sub(r"\\(.)", r"\1", match.group(3))))
        else:
            tokens.append(("word", match.group(4)))
    return tokens


def parse(text):
    """Parse an expression into nested tuples: ("and"|"or", left, right) or ("cmp", attr, op, value)."""
    tokens = _tokenize(text)
    if not tokens:
        raise invalid(text, "the expression is empty")
    position = 0

    def peek_word():
        if position < len(tokens) and tokens[position][0] == "word":
            return tokens[position][1].lower()
        return None

    def parse_or():
        nonlocal position
        node = parse_and()
        while peek_word() == "or":
            position += 1
            node = ("or", node, parse_and())
        return node

    def parse_and():
        nonlocal position
        node = parse_factor()
        while peek_word() == "and":
            position += 1
            node = ("and", node, parse_factor())
        return node

    def parse_factor():
        nonlocal position
        if position >= len(tokens):
            raise invalid(text, "the expression ends too early")
        kind, value = tokens[position]
        if kind == "(":
            position += 1
            node = parse_or()
            if position >= len(tokens) or tokens[position][0] != ")":
                raise invalid(text, "missing ')'")
            position += 1
            return node
        if kind != "word":
            raise invalid(text, f"expected an attribute name, found {value!r}")
        attribute = value
        position += 1
        operator = peek_word()
        if operator not in OPERATORS:
            raise invalid(
                text, f"expected an operator ({', '.join(sorted(OPERATORS))}) after {attribute!r}"
            )
        position += 1
        if operator == "pr":
            return ("cmp", attribute, "pr", None)
        if position >= len(tokens):
            raise invalid(text, f"missing value after {attribute} {operator}")
        kind, raw = tokens[position]
        position += 1
        if kind == "string":
            return ("cmp", attribute, operator, raw)
        if kind != "word":
            raise invalid(text, f"expected a value after {attribute} {operator}")
        return ("cmp", attribute, operator, _literal(text, raw))

    node = parse_or()
    if position != len(tokens):
        raise invalid(text, f"unexpected {tokens[position][1] or tokens[position][0]!r}")
    return node


def _literal(text, raw):
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        raise invalid(
            text, f"{raw!r} is not a quoted string, number, true, false or null"
        ) from None


def comparisons(node):
    """Yield every ("cmp", attribute, op, value) in the tree."""
    if node[0] == "cmp":
        yield node
    else:
        yield from comparisons(node[1])
        yield from comparisons(node[2])


def to_sql(node, column_for, text):
    """Compile the tree to (SQL, params); column_for(attribute) returns an SQL expression or None."""
    if node[0] in ("and", "or"):
        left_sql, left_params = to_sql(node[1], column_for, text)
        right_sql, right_params = to_sql(node[2], column_for, text)
        return f"({left_sql} {node[0].upper()} {right_sql})", left_params + right_params
    _kind, attribute, operator, value = node
    column = column_for(attribute)
    if column is None:
        raise invalid(text, f"unknown or unsupported attribute {attribute!r}")
    if operator == "pr":
        return f"({column} IS NOT NULL)", []
    if value is None:
        return (f"({column} IS NULL)" if operator == "eq" else f"({column} IS NOT NULL)"), []
    if isinstance(value, bool):
        value = 1 if value else 0
    if operator in ("sw", "co", "ew"):
        escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"sw": f"{escaped}%", "co": f"%{escaped}%", "ew": f"%{escaped}"}[operator]
        return f"({column} LIKE ? ESCAPE '\\')", [pattern]
    sql_operator = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[operator]
    collate = " COLLATE NOCASE" if isinstance(value, str) and operator in ("eq", "ne") else ""
    return f"({column}{collate} {sql_operator} ?)", [value]


def evaluate(node, values_of):
    """Evaluate the tree in Python; values_of(attribute) returns the list of values at that path."""
    if node[0] == "and":
        return evaluate(node[1], values_of) and evaluate(node[2], values_of)
    if node[0] == "or":
        return evaluate(node[1], values_of) or evaluate(node[2], values_of)
    _kind, attribute, operator, expected = node
    values = [value for value in values_of(attribute) if value is not None]
    if operator == "pr":
        return bool(values)
    return any(_compare(value, operator, expected) for value in values)


def _compare(value, operator, expected):
    if isinstance(value, str) and isinstance(expected, str):
        value_folded, expected_folded = value.lower(), expected.lower()
    else:
        value_folded, expected_folded = value, expected
    try:
        if operator == "eq":
            return value_folded == expected_folded
        if operator == "ne":
            return value_folded != expected_folded
        if operator == "sw":
            return str(value_folded).startswith(str(expected_folded))
        if operator == "ew":
            return str(value_folded).endswith(str(expected_folded))
        if operator == "co":
            return str(expected_folded) in str(value_folded)
        return {
            "gt": value > expected,
            "ge": value >= expected,
            "lt": value < expected,
            "le": value <= expected,
        }[operator]
    except TypeError:
        return False


def values_at(document, attribute):
    """Return the values at a dotted path in a JSON document; lists along the path are flattened."""
    current = [document]
    for key in attribute.split("."):
        following = []
        for item in current:
            if isinstance(item, list):
                item_list = item
            else:
                item_list = [item]
            for element in item_list:
                if isinstance(element, dict) and key in element:
                    value = element[key]
                    following.extend(value if isinstance(value, list) else [value])
        current = following
    return current


_PROFILE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RANGE_OPERATORS = ("gt", "ge", "lt", "le")


def column_resolver(fields, constants=None):
    """Return column_for(attribute) for to_sql(): fields maps attribute names to columns, any
    `profile.<key>` maps to the key inside the JSON profile column, constants to SQL literals."""

    def column_for(attribute):
        if attribute in fields:
            return fields[attribute]
        if constants and attribute in constants:
            return constants[attribute]
        if attribute.startswith("profile."):
            key = attribute.split(".", 1)[1]
            if _PROFILE_KEY.match(key):
                return f"json_extract(profile, '$.{key}')"
        return None

    return column_for


def check_filter(tree, text, filterable, dated):
    """Raise E0000031 unless every comparison uses a filterable attribute with eq, or a range
    operator (gt/ge/lt/le) on one of the dated attributes: Okta's rules for `filter`."""
    for _kind, attribute, operator, _value in comparisons(tree):
        if attribute not in filterable:
            raise invalid(text, f"filter does not support {attribute!r}; use search")
        if operator != "eq" and not (attribute in dated and operator in RANGE_OPERATORS):
            raise invalid(
                text, f"filter supports eq, and gt/ge/lt/le on {sorted(dated)}, not {operator!r}"
            )


def like_prefix(text):
    """Return a LIKE pattern (with ESCAPE '\\') matching values that start with text, lower-cased."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
