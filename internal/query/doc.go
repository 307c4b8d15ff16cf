// Package query implements the Keyfactor Command list-filter mini-language
// (the `QueryString` / `pq.queryString` parameter), translates it into a
// parameterised SQL WHERE expression for SQLite or PostgreSQL, and reads the
// paging and sorting parameters (PageReturned, ReturnLimit, SortField,
// SortAscending) shared by every list endpoint.
//
// Scope: syntax, type checking against a per-endpoint Schema, and SQL text
// generation. The package does no I/O and knows no table: each list endpoint
// declares which API field names map to which SQL expressions.
//
// # The language
//
//	query      = or
//	or         = and { "OR" and }
//	and        = primary { "AND" primary }
//	primary    = "(" or ")" | comparison
//	comparison = field binop value | field unop
//	binop      = -eq -ne -contains -notcontains -startswith -endswith -gt -ge -lt -le
//	unop       = -isnull | -notnull
//	value      = "double-quoted" | 'single-quoted' | integer | true | false | NULL
//
// Keywords (AND, OR, true, false, NULL), operators and field names are matched
// case-insensitively. AND binds tighter than OR. Whitespace between tokens is
// optional wherever the tokens cannot run together, so the go-client's
// `(A -eq "x")AND B -eq "y"` (no space before AND) parses. Inside a quoted
// string a backslash escapes `"`, `'` and `\`; a backslash before any other
// character is kept literally, so an unescaped `DOMAIN\user` means what it
// says. Both quote styles are accepted (clients send double quotes; single
// quotes are a convenience for people typing into a URL). Integers are
// decimal, optionally negative, 64-bit. Dates are written as quoted strings.
//
// A query is at most MaxLength bytes, MaxDepth levels of parentheses and
// MaxComparisons comparisons; the constants say why.
//
// `-isnull` and `-notnull` are accepted as spellings of `-eq NULL` and
// `-ne NULL`; the parser normalises them, so the AST and String() only ever
// show the `-eq NULL` form.
//
// # Types and coercion
//
// A comparison is checked against the field's Kind when it is compiled:
//
//   - String: every operator. Numbers and booleans are turned into their
//     text. -contains, -notcontains, -startswith and -endswith are always
//     case-insensitive and use LIKE with `%`, `_` and the escape character
//     escaped, so the value matches literally. The escape character is '!'
//     (ESCAPE '!'), not '\', because a backslash in an SQL literal depends on
//     PostgreSQL's standard_conforming_strings setting. -eq, -ne and the ordering
//     operators are case-insensitive only when Field.CaseInsensitive is set
//     (thumbprints, CNs); then they compare lower(column) with lower(value).
//     Ordering operators compare by code point on both dialects (PostgreSQL
//     gets COLLATE "C") so results do not depend on the database locale.
//     SQLite's lower() folds ASCII only; PostgreSQL's folds all of Unicode.
//   - Int: -eq -ne -gt -ge -lt -le. Quoted numbers ("5") are accepted
//     because the go-client quotes some ids.
//   - Date: -eq -ne -gt -ge -lt -le, with a quoted value: "YYYY-MM-DD",
//     RFC 3339 ("2027-01-01T10:00:00Z", "…+02:00", fractions allowed), or
//     "YYYY-MM-DDThh:mm:ss" without a zone, taken as UTC; years 0001-9999.
//     Anything else is an error naming the field. A day is a UTC day.
//     A value stands for the whole period of its precision: a day for
//     YYYY-MM-DD, a second for a timestamp (fractional seconds are dropped).
//     So `NotAfter -eq "2027-01-01"` finds everything expiring during that
//     UTC day, `-gt` means after the end of that period, `-le` means before
//     its end, and so on.
//   - Bool: -eq -ne with true/false (bare or quoted) or 1/0.
//
// NULL may only be used with -eq (IS NULL) and -ne (IS NOT NULL). The
// negative operators -ne and -notcontains also match rows where the column
// is NULL: "OwnerRoleName -ne "x"" includes certificates without an owner,
// as a person reading the query would expect, rather than SQL's
// three-valued answer.
//
// # Storage contract
//
// The generated SQL is only correct if the storage layer follows these rules
// for the columns it names in a Schema:
//
//   - String fields are text expressions (cast a PostgreSQL uuid column with
//     `col::text` in Field.Column). An expression index on lower(col) makes
//     case-insensitive -eq indexable on both dialects.
//   - Int fields are integer columns. Values are bound as int64; on
//     PostgreSQL every placeholder carries a cast ($1::bigint, $2::text,
//     ::timestamptz, ::boolean), so an int4 column compared with a large
//     value is simply false, not a driver error.
//   - Date fields are stored in UTC with whole seconds. On SQLite they are
//     TEXT in exactly the fixed-width layout SQLiteTimeFormat
//     ("2006-01-02T15:04:05Z", use FormatSQLiteTime), so that text order is
//     time order; the compiler binds date values on SQLite as strings in the
//     same layout. On PostgreSQL they are timestamptz and values are bound
//     as time.Time.
//   - Bool fields are INTEGER 0/1 on SQLite and boolean on PostgreSQL; values
//     are bound as Go bools.
//   - Field.Column is trusted SQL written by the programmer; user input only
//     ever reaches the database as a bound argument.
//
// # Paging and sorting
//
// ParsePage reads the paging parameters under their bare names (SDK v25) and
// the go-client's prefixed names ("pq.", "certificateStoreQuery.", "query.",
// "pagedQuery."). Schema.OrderBy turns SortField into an ORDER BY over
// whitelisted columns with the schema's Key field as tiebreak, and
// Page.LimitOffset gives LIMIT/OFFSET. Past the last page the query returns
// no rows, which is what paging clients wait for.
//
// # Errors
//
// Every error caused by the client's input is an *Error, whose text names the
// parameter (and, for syntax errors, the 1-based character position, counted
// in characters, not bytes), for example
// `QueryString: unexpected token "AND" at position 16`. The transport should
// answer those with 400; any other error (an unknown Dialect, a default sort
// field missing from the schema) is a programming error and a 500.
package query
