//! `stick-table` and `stick on|match|store-request` lines, with HAProxy 2.6's messages
//! (`parse_stick_table()` in stick_table.c, the `stick` parser of cfgparse-listen.c), and
//! their link step: table names become indices into [`Config::stick_tables`].
//!
//! Not supported (refused by name): `peers` (no peers sections), `store` (the data types
//! only serve `track-sc*` and `sc_*` fetches, which are refused too), `stick
//! store-response` (its own keyword row).
//!
//! [`Config::stick_tables`]: super::super::ir::Config::stick_tables

use std::collections::HashMap;

use super::super::diag::{Diagnostic, Location, Severity};
use super::super::ir::{
    Condition, Origin, Sample, StickAction, StickKeyType, StickRule, StickTable,
};
use super::super::keywords::{self, Family, Sections, Support};
use super::super::lexer::Word;
use super::super::loader::{unsupported, with_col};
use super::super::values;
use super::{acl, arg, at, Ctx, ProxyDraft, SectionState};

/// A `stick-table` line as parsed, before linking.
#[derive(Debug, Clone)]
pub struct StickTableDraft {
    pub table: StickTable,
    pub loc: Location,
}

/// A `stick` rule as parsed: the table is still a name (`None`: the proxy's own table).
#[derive(Debug, Clone)]
pub struct StickRuleDraft {
    pub action: StickAction,
    pub sample: Sample,
    pub table: Option<String>,
    pub cond: Option<Condition>,
    pub loc: Location,
}

fn draft(ctx: &mut Ctx) -> Option<&mut ProxyDraft> {
    match &mut ctx.section {
        SectionState::Proxy(p) => Some(p),
        _ => None,
    }
}

/// HAProxy's `proxy_cap_str()`: how a proxy is named in the table conflict message.
fn cap_str(p: &ProxyDraft) -> &'static str {
    match p.kind {
        Sections::LISTEN => "listen",
        Sections::FRONTEND => "frontend",
        Sections::BACKEND => "backend",
        _ => "proxy",
    }
}

/// `stick-table type <type> [len <n>] size <n> [expire <t>] [nopurge] [srvkey name|addr]`.
pub fn parse_stick_table(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let kw_loc = with_col(loc, &words[0]);
    let Some(p) = draft(ctx) else { return };
    if p.is_defaults() {
        return ctx.fatal(
            &kw_loc,
            "not-in-defaults",
            "'stick-table' is not supported in 'defaults' section.",
        );
    }
    let name = p.display_name();
    // The table is named after its proxy; names are global (HAProxy's stktable_find_by_name).
    let mine = p
        .stick_table
        .as_ref()
        .map(|t| (cap_str(p), name.clone(), t.loc.clone()));
    let other = mine.or_else(|| {
        ctx.proxies.iter().find_map(|o| {
            let t = o.stick_table.as_ref()?;
            (o.display_name() == name).then(|| (cap_str(o), o.display_name(), t.loc.clone()))
        })
    });
    if let Some((cap, oname, oloc)) = other {
        return ctx.fatal(
            &kw_loc,
            "duplicate-table",
            format!("stick-table name '{name}' conflicts with table declared in {cap} '{oname}' at {}:{}.", oloc.file, oloc.line),
        );
    }
    let mut key: Option<(StickKeyType, u32)> = None;
    let mut size: u64 = 0;
    let mut expire_ms = None;
    let mut nopurge = false;
    let mut i = 1;
    while i < words.len() {
        let w = arg(words, i);
        match w {
            "size" => {
                i += 1;
                let v = arg(words, i);
                if v.is_empty() {
                    return ctx.fatal(
                        &kw_loc,
                        "missing-argument",
                        format!("stick-table: missing argument after '{w}'."),
                    );
                }
                match values::parse_size(v) {
                    Ok(n) => size = n,
                    Err(values::SizeError::UnexpectedChar { ch }) => {
                        return ctx.fatal(
                            &at(loc, words, i),
                            "bad-value",
                            format!(
                                "stick-table: unexpected character '{ch}' in argument of '{w}'."
                            ),
                        );
                    }
                    Err(_) => {
                        return ctx.fatal(
                            &at(loc, words, i),
                            "bad-value",
                            format!("stick-table: missing argument after '{w}'."),
                        );
                    }
                }
                i += 1;
            }
            "peers" => {
                if arg(words, i + 1).is_empty() {
                    return ctx.fatal(
                        &kw_loc,
                        "missing-argument",
                        format!("stick-table: missing argument after '{w}'."),
                    );
                }
                return ctx.push(unsupported(&at(loc, words, i), "stick-table peers"));
            }
            "expire" => {
                i += 1;
                let v = arg(words, i);
                if v.is_empty() {
                    return ctx.fatal(
                        &kw_loc,
                        "missing-argument",
                        format!("stick-table: missing argument after '{w}'."),
                    );
                }
                match values::parse_duration(v, 1) {
                    Ok(d) => {
                        if let Some(warn) = d.warning {
                            ctx.push(Diagnostic::plain(
                                Severity::Warning,
                                "timer-junk",
                                Some(at(loc, words, i)),
                                warn,
                            ));
                        }
                        expire_ms = (d.ms > 0).then_some(d.ms);
                    }
                    Err(values::DurationError::Overflow) => {
                        let msg = format!("stick-table: timer overflow in argument <{v}> to <{w}>, maximum value is 2147483647 ms (~24.8 days).");
                        return ctx.push(Diagnostic::parsing_tight(
                            Severity::Fatal,
                            "bad-value",
                            at(loc, words, i),
                            msg,
                        ));
                    }
                    Err(values::DurationError::Underflow) => {
                        let msg = format!("stick-table: timer underflow in argument <{v}> to <{w}>, minimum non-null value is 1 ms.");
                        return ctx.push(Diagnostic::parsing_tight(
                            Severity::Fatal,
                            "bad-value",
                            at(loc, words, i),
                            msg,
                        ));
                    }
                    Err(values::DurationError::UnexpectedChar { ch }) => {
                        return ctx.fatal(
                            &at(loc, words, i),
                            "bad-value",
                            format!(
                                "stick-table: unexpected character '{ch}' in argument of '{w}'."
                            ),
                        );
                    }
                    Err(values::DurationError::Empty) => {
                        return ctx.fatal(
                            &kw_loc,
                            "missing-argument",
                            format!("stick-table: missing argument after '{w}'."),
                        );
                    }
                }
                i += 1;
            }
            "nopurge" => {
                nopurge = true;
                i += 1;
            }
            "type" => {
                i += 1;
                match parse_type(words, &mut i) {
                    Some(k) => key = Some(k),
                    None => {
                        return ctx.fatal(
                            &at(loc, words, i),
                            "bad-value",
                            format!("stick-table: unknown type '{}'.", arg(words, i)),
                        );
                    }
                }
            }
            "store" => return ctx.push(unsupported(&at(loc, words, i), "stick-table store")),
            "srvkey" => {
                i += 1;
                let v = arg(words, i);
                if v != "name" && v != "addr" {
                    return ctx.fatal(
                        &at(loc, words, i),
                        "bad-value",
                        format!("stick-table : unknown server key type '{v}'."),
                    );
                }
                // The server key only changes what peers exchange; lookups are the same.
                i += 1;
            }
            _ => {
                return ctx.fatal(
                    &at(loc, words, i),
                    "bad-value",
                    format!("stick-table: unknown argument '{w}'."),
                )
            }
        }
    }
    if size == 0 {
        return ctx.fatal(&kw_loc, "missing-argument", "stick-table: missing size.");
    }
    let Some((key, key_size)) = key else {
        return ctx.fatal(&kw_loc, "missing-argument", "stick-table: missing type.");
    };
    let table = StickTable {
        name,
        origin: Origin {
            file: loc.file.clone(),
            line: loc.line,
        },
        key,
        key_size,
        size,
        expire_ms,
        nopurge,
    };
    if let Some(p) = draft(ctx) {
        p.stick_table = Some(StickTableDraft { table, loc: kw_loc });
    }
}

/// HAProxy's `stktable_parse_type()`: `words[*i]` is the type name; on success `*i` points
/// past the type (and its `len <n>`); on failure `*i` is the word HAProxy names.
fn parse_type(words: &[Word], i: &mut usize) -> Option<(StickKeyType, u32)> {
    let (key, size, custom) = match arg(words, *i) {
        "integer" => (StickKeyType::Integer, 4, false),
        "ip" => (StickKeyType::Ip, 4, false),
        "ipv6" => (StickKeyType::Ipv6, 16, false),
        "string" => (StickKeyType::String, 32, true),
        "binary" => (StickKeyType::Binary, 32, true),
        _ => return None,
    };
    *i += 1;
    let mut size: u32 = size;
    if custom && arg(words, *i) == "len" {
        *i += 1;
        let n = values::atoi(arg(words, *i));
        if n <= 0 {
            return None;
        }
        size = u32::try_from(n).unwrap_or(u32::MAX);
        if key == StickKeyType::String {
            // Room for the NUL terminator.
            size = size.saturating_add(1);
        }
        *i += 1;
    }
    Some((key, size))
}

/// `stick on|match|store-request|store <pattern> [table <name>] [{if|unless} <cond>]`.
pub fn parse_stick(ctx: &mut Ctx, words: &[Word], loc: &Location) {
    let kw_loc = with_col(loc, &words[0]);
    let Some(p) = draft(ctx) else { return };
    if p.is_defaults() {
        return ctx.fatal(
            &kw_loc,
            "not-in-defaults",
            "'stick' not allowed in 'defaults' section.",
        );
    }
    if !p.has_be() {
        let msg = format!(
            "'stick' ignored because {} '{}' has no backend capability.",
            p.label(),
            p.display_name()
        );
        return ctx.warn(&kw_loc, "capability-ignored", msg);
    }
    let action = match arg(words, 1) {
        "store" | "store-request" => StickAction::StoreRequest,
        "store-response" => return ctx.push(unsupported(&kw_loc, "stick store-response")),
        "match" => StickAction::Match,
        "on" => StickAction::On,
        _ => {
            return ctx.fatal(
                &kw_loc,
                "bad-value",
                "'stick' expects 'on', 'match', or 'store'.",
            )
        }
    };
    let text = arg(words, 2);
    if text.is_empty() {
        return ctx.fatal(
            &kw_loc,
            "missing-argument",
            "'stick' expects a fetch method.",
        );
    }
    let eloc = at(loc, words, 2);
    let Some(sample) = parse_expr(ctx, text, &eloc) else {
        return;
    };
    let mut i = 3;
    let mut table = None;
    if arg(words, i) == "table" {
        table = Some(arg(words, i + 1).to_string());
        i += 2;
    }
    let mut cond = None;
    match arg(words, i) {
        "if" | "unless" => {
            let what = "'stick': error detected while parsing sticking condition : {}.";
            match acl::parse_condition(ctx, words, i, loc, what) {
                Some(c) => cond = Some(c),
                None => return,
            }
        }
        "" => {}
        other => {
            return ctx.fatal(
                &at(loc, words, i),
                "bad-value",
                format!("'stick': unknown keyword '{other}'."),
            );
        }
    }
    if let Some(p) = draft(ctx) {
        p.stick_rules.push(StickRuleDraft {
            action,
            sample,
            table,
            cond,
            loc: kw_loc,
        });
    }
}

/// A sample expression of a `stick` rule, with HAProxy's `sample_parse_expr()` messages;
/// fetches and converters the engine does not evaluate are refused by name.
fn parse_expr(ctx: &mut Ctx, text: &str, loc: &Location) -> Option<Sample> {
    let Some(sample) = acl::parse_sample(text) else {
        let fetch = text.split(['(', ',']).next().unwrap_or(text);
        ctx.fatal(
            loc,
            "bad-sample",
            format!("'stick': fetch method '{fetch}' : expected ')'"),
        );
        return None;
    };
    match keywords::lookup(Family::Fetch, &sample.fetch, Sections::NONE) {
        None => {
            ctx.fatal(
                loc,
                "unknown-fetch",
                format!("'stick': unknown fetch method '{}'", sample.fetch),
            );
            return None;
        }
        Some(row) if row.support != Support::Implemented => {
            ctx.push(unsupported(loc, &format!("fetch {}", sample.fetch)));
            return None;
        }
        Some(_) => {}
    }
    for (conv, _) in &sample.converters {
        match keywords::lookup(Family::Converter, conv, Sections::NONE) {
            None => {
                ctx.fatal(
                    loc,
                    "unknown-converter",
                    format!("'stick': unknown converter '{conv}'"),
                );
                return None;
            }
            Some(row) if row.support != Support::Implemented => {
                ctx.push(unsupported(loc, &format!("converter {conv}")));
                return None;
            }
            Some(_) => {}
        }
    }
    Some(sample)
}

/// Link step: every declared table in declaration order, and each backend's rules with
/// their table resolved, keyed by backend name. Reports HAProxy's
/// `Proxy 'x': unable to find stick-table 'y'.`
pub fn link(
    ctx: &mut Ctx,
    drafts: &[ProxyDraft],
) -> (Vec<StickTable>, HashMap<String, Vec<StickRule>>) {
    let tables: Vec<StickTable> = drafts
        .iter()
        .filter_map(|d| d.stick_table.as_ref().map(|t| t.table.clone()))
        .collect();
    let mut rules = HashMap::new();
    for d in drafts.iter().filter(|d| d.has_be()) {
        let mut out = Vec::new();
        for r in &d.stick_rules {
            let want = r.table.clone().unwrap_or_else(|| d.display_name());
            let found = match &r.table {
                Some(n) => tables.iter().position(|t| &t.name == n),
                // The proxy's own table.
                None => d
                    .stick_table
                    .as_ref()
                    .and_then(|_| tables.iter().position(|t| t.name == want)),
            };
            match found {
                Some(table) => out.push(StickRule {
                    action: r.action,
                    sample: r.sample.clone(),
                    table,
                    cond: r.cond.clone(),
                }),
                None => {
                    let msg = format!(
                        "Proxy '{}': unable to find stick-table '{want}'.",
                        d.display_name()
                    );
                    ctx.push(
                        Diagnostic::plain(
                            Severity::Fatal,
                            "unknown-table",
                            Some(r.loc.clone()),
                            msg,
                        )
                        .link(),
                    );
                }
            }
        }
        rules.insert(d.display_name(), out);
    }
    (tables, rules)
}
