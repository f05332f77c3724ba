//! The keyword table: the single source of truth for what haproxide understands.
//!
//! Every keyword of HAProxy 2.6 appears here once per family (section keywords, `option`
//! names, `bind` options, `server` options, rule actions...), with the sections it is valid
//! in and its support status. The parser dispatches on these rows, "did you mean"
//! candidates come from them, and `grammar/keywords.md` is generated from them
//! (`haproxide --dump-keywords`); a test fails when that file is stale.

mod bind_options;
mod fetches;
mod global;
mod options;
mod proxy;
mod rule_actions;
mod sections;
mod server_options;

/// A set of section kinds, as a bit mask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Sections(pub u32);

impl Sections {
    pub const NONE: Sections = Sections(0);
    pub const GLOBAL: Sections = Sections(1 << 0);
    pub const DEFAULTS: Sections = Sections(1 << 1);
    pub const FRONTEND: Sections = Sections(1 << 2);
    pub const LISTEN: Sections = Sections(1 << 3);
    pub const BACKEND: Sections = Sections(1 << 4);
    pub const USERLIST: Sections = Sections(1 << 5);
    pub const PEERS: Sections = Sections(1 << 6);
    pub const RESOLVERS: Sections = Sections(1 << 7);
    pub const MAILERS: Sections = Sections(1 << 8);
    pub const PROGRAM: Sections = Sections(1 << 9);
    pub const HTTP_ERRORS: Sections = Sections(1 << 10);
    pub const RING: Sections = Sections(1 << 11);
    pub const CACHE: Sections = Sections(1 << 12);
    pub const FCGI_APP: Sections = Sections(1 << 13);
    pub const LOG_FORWARD: Sections = Sections(1 << 14);
    /// Every proxy section, the usual domain of proxy keywords.
    pub const PROXIES: Sections =
        Sections(Self::DEFAULTS.0 | Self::FRONTEND.0 | Self::LISTEN.0 | Self::BACKEND.0);
    /// Sections with the frontend capability (defaults carry it for inheritance).
    pub const FE: Sections = Sections(Self::DEFAULTS.0 | Self::FRONTEND.0 | Self::LISTEN.0);
    /// Sections with the backend capability (defaults carry it for inheritance).
    pub const BE: Sections = Sections(Self::DEFAULTS.0 | Self::LISTEN.0 | Self::BACKEND.0);
    /// Proxies that can carry rules and ACLs (named defaults only, checked by the parser).
    pub const NAMED: Sections = Sections(Self::FRONTEND.0 | Self::LISTEN.0 | Self::BACKEND.0);

    pub const fn or(self, other: Sections) -> Sections {
        Sections(self.0 | other.0)
    }
    pub const fn contains(self, other: Sections) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
    pub const fn intersects(self, other: Sections) -> bool {
        self.0 & other.0 != 0
    }
}

/// What haproxide does with a keyword that HAProxy 2.6 accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Support {
    /// Parsed into the typed IR and honoured by the engine.
    Implemented,
    /// Tuning or process knob with no behavioural effect here: accepted with a notice.
    Accepted,
    /// Valid HAProxy 2.6 that haproxide cannot run faithfully yet: the config is refused.
    Unsupported,
    /// Removed from HAProxy before 2.6; the text is HAProxy's own fatal message.
    Removed(&'static str),
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Keyword {
    /// The word (or words, space separated, e.g. `timeout client`, `stats uri`) as written.
    pub name: &'static str,
    /// Where HAProxy accepts it.
    pub sections: Sections,
    pub support: Support,
    /// One-line syntax from the manual, shown in `grammar/keywords.md` and in help texts.
    pub syntax: &'static str,
}

/// Builds a row; a `const fn` so tables stay `static`.
pub const fn kw(
    name: &'static str,
    sections: Sections,
    support: Support,
    syntax: &'static str,
) -> Keyword {
    Keyword {
        name,
        sections,
        support,
        syntax,
    }
}

/// The families of keywords, each its own namespace.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    /// Section headers: `global`, `defaults`, `frontend`...
    Section,
    /// First word(s) of a line inside a section (`global`, proxies and the small sections).
    Directive,
    /// `option <name>` (and `no option`, `default option`).
    ProxyOption,
    /// Options after a `bind` address.
    BindOption,
    /// Options after a `server` address, also `default-server` and `server-template`.
    ServerOption,
    /// `http-request <action>`.
    HttpRequestAction,
    /// `http-response <action>`.
    HttpResponseAction,
    /// `http-after-response <action>`.
    HttpAfterResponseAction,
    /// `tcp-request <kind> <action>`, `tcp-response content <action>`.
    TcpAction,
    /// Sample fetch methods usable in ACLs and expressions (`hdr`, `path_beg`, `src`...).
    Fetch,
    /// Sample converters (`lower`, `map`, `base64`...).
    Converter,
}

impl Family {
    pub const ALL: [Family; 11] = [
        Family::Section,
        Family::Directive,
        Family::ProxyOption,
        Family::BindOption,
        Family::ServerOption,
        Family::HttpRequestAction,
        Family::HttpResponseAction,
        Family::HttpAfterResponseAction,
        Family::TcpAction,
        Family::Fetch,
        Family::Converter,
    ];

    pub fn rows(self) -> &'static [Keyword] {
        match self {
            Family::Section => sections::ROWS,
            Family::Directive => directive_rows(),
            Family::ProxyOption => options::ROWS,
            Family::BindOption => bind_options::ROWS,
            Family::ServerOption => server_options::ROWS,
            Family::HttpRequestAction => rule_actions::HTTP_REQUEST,
            Family::HttpResponseAction => rule_actions::HTTP_RESPONSE,
            Family::HttpAfterResponseAction => rule_actions::HTTP_AFTER_RESPONSE,
            Family::TcpAction => rule_actions::TCP,
            Family::Fetch => fetches::FETCHES,
            Family::Converter => fetches::CONVERTERS,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Family::Section => "Section keywords",
            Family::Directive => "Directives (first word of a line)",
            Family::ProxyOption => "option <name>",
            Family::BindOption => "bind options",
            Family::ServerOption => "server / default-server / server-template options",
            Family::HttpRequestAction => "http-request actions",
            Family::HttpResponseAction => "http-response actions",
            Family::HttpAfterResponseAction => "http-after-response actions",
            Family::TcpAction => "tcp-request / tcp-response actions",
            Family::Fetch => "sample fetches (ACLs and expressions)",
            Family::Converter => "sample converters",
        }
    }
}

fn directive_rows() -> &'static [Keyword] {
    use std::sync::OnceLock;
    static ALL: OnceLock<Vec<Keyword>> = OnceLock::new();
    ALL.get_or_init(|| {
        global::ROWS
            .iter()
            .chain(proxy::ROWS)
            .chain(sections::BODY_ROWS)
            .copied()
            .collect()
    })
}

/// `grammar/keywords.md`: the whole table, generated; a test keeps the file in sync.
pub fn markdown() -> String {
    let mut out = String::from(
        "# haproxide keyword table\n\nGenerated by `haproxide --dump-keywords` from `src/config/keywords/`; do not edit by hand.\n\n\
         Status: **implemented** (parsed and run), **accepted** (tuning with no effect here, a notice), \
         **unsupported** (valid HAProxy 2.6 that haproxide refuses by name), **removed** (fatal in HAProxy 2.6 too).\n",
    );
    for family in Family::ALL {
        let rows = family.rows();
        let count = |want: fn(&Support) -> bool| rows.iter().filter(|k| want(&k.support)).count();
        out.push_str(&format!(
            "\n## {} ({} rows: {} implemented, {} accepted, {} unsupported, {} removed)\n\n| keyword | sections | status | syntax |\n|---|---|---|---|\n",
            family.title(),
            rows.len(),
            count(|s| *s == Support::Implemented),
            count(|s| *s == Support::Accepted),
            count(|s| *s == Support::Unsupported),
            count(|s| matches!(s, Support::Removed(_))),
        ));
        for k in rows {
            let status = match k.support {
                Support::Implemented => "implemented".to_string(),
                Support::Accepted => "accepted".to_string(),
                Support::Unsupported => "unsupported".to_string(),
                Support::Removed(m) => format!("removed: {}", m.replace('|', "\\|")),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                k.name,
                section_names(k.sections),
                status,
                k.syntax.replace('|', "\\|")
            ));
        }
    }
    out
}

fn section_names(s: Sections) -> String {
    const NAMES: &[(Sections, &str)] = &[
        (Sections::GLOBAL, "global"),
        (Sections::DEFAULTS, "defaults"),
        (Sections::FRONTEND, "frontend"),
        (Sections::LISTEN, "listen"),
        (Sections::BACKEND, "backend"),
        (Sections::USERLIST, "userlist"),
        (Sections::PEERS, "peers"),
        (Sections::RESOLVERS, "resolvers"),
        (Sections::MAILERS, "mailers"),
        (Sections::PROGRAM, "program"),
        (Sections::HTTP_ERRORS, "http-errors"),
        (Sections::RING, "ring"),
        (Sections::CACHE, "cache"),
        (Sections::FCGI_APP, "fcgi-app"),
        (Sections::LOG_FORWARD, "log-forward"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(b, _)| s.intersects(*b))
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "-".to_string()
    } else {
        names.join(", ")
    }
}

/// Finds the row for `name` in `family` that is valid in `section`; falls back to a row of
/// that name valid elsewhere (so the caller can say "not allowed in this section").
pub fn lookup(family: Family, name: &str, section: Sections) -> Option<&'static Keyword> {
    // Rows sharing `name`, found through a per-family index built once (the tables hold
    // hundreds of rows and every config line does at least one lookup).
    use std::collections::HashMap;
    use std::sync::OnceLock;
    type Index = HashMap<&'static str, Vec<&'static Keyword>>;
    static INDEX: OnceLock<Vec<Index>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        Family::ALL
            .iter()
            .map(|f| {
                let mut m: Index = HashMap::new();
                for k in f.rows() {
                    m.entry(k.name).or_default().push(k);
                }
                m
            })
            .collect()
    });
    let slot = Family::ALL.iter().position(|f| *f == family)?;
    let rows = index.get(slot)?.get(name)?;
    rows.iter()
        .copied()
        .find(|k| k.name == name && k.sections.intersects(section))
        // A proxy keyword in the wrong kind of proxy is still that proxy keyword (the
        // parser then reports HAProxy's capability message), not a global one.
        .or_else(|| {
            Sections::PROXIES
                .intersects(section)
                .then(|| {
                    rows.iter()
                        .copied()
                        .find(|k| k.sections.intersects(Sections::PROXIES))
                })
                .flatten()
        })
        .or_else(|| rows.first().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(&'static str, &'static [Keyword])> {
        vec![
            ("sections::ROWS", sections::ROWS),
            ("sections::BODY_ROWS", sections::BODY_ROWS),
            ("global::ROWS", global::ROWS),
            ("proxy::ROWS", proxy::ROWS),
            ("options::ROWS", options::ROWS),
            ("bind_options::ROWS", bind_options::ROWS),
            ("server_options::ROWS", server_options::ROWS),
            ("rule_actions::HTTP_REQUEST", rule_actions::HTTP_REQUEST),
            ("rule_actions::HTTP_RESPONSE", rule_actions::HTTP_RESPONSE),
            (
                "rule_actions::HTTP_AFTER_RESPONSE",
                rule_actions::HTTP_AFTER_RESPONSE,
            ),
            ("rule_actions::TCP", rule_actions::TCP),
            ("fetches::FETCHES", fetches::FETCHES),
            ("fetches::CONVERTERS", fetches::CONVERTERS),
        ]
    }

    #[test]
    fn no_duplicate_rows_within_a_family() {
        for fam in Family::ALL {
            let rows = fam.rows();
            assert!(!rows.is_empty(), "{fam:?} is empty");
            for (i, a) in rows.iter().enumerate() {
                for b in &rows[i + 1..] {
                    if a.name != b.name {
                        continue;
                    }
                    // NONE means "wherever the family applies", so two NONE rows always clash.
                    let clash = a.sections == Sections::NONE
                        || b.sections == Sections::NONE
                        || a.sections.intersects(b.sections);
                    assert!(
                        !clash,
                        "{fam:?}: duplicate row '{}' ({:?} / {:?})",
                        a.name, a.sections, b.sections
                    );
                }
            }
        }
    }

    #[test]
    fn rows_are_well_formed_and_sorted() {
        for (file, rows) in files() {
            for k in rows {
                assert!(
                    !k.name.is_empty() && k.name.trim() == k.name,
                    "{file}: bad name {:?}",
                    k.name
                );
                assert!(
                    !k.name.contains("  ") && !k.name.contains('('),
                    "{file}: bad name {:?}",
                    k.name
                );
                assert!(
                    !k.syntax.is_empty() && k.syntax.len() < 100,
                    "{file}: bad syntax for {}",
                    k.name
                );
                if let Support::Removed(msg) = k.support {
                    assert!(
                        !msg.trim().is_empty(),
                        "{file}: empty Removed message for {}",
                        k.name
                    );
                }
            }
            for w in rows.windows(2) {
                assert!(
                    w[0].name <= w[1].name,
                    "{file}: '{}' listed before '{}'",
                    w[0].name,
                    w[1].name
                );
            }
        }
    }

    #[test]
    fn spot_checks() {
        let get = |fam, name, sec| {
            lookup(fam, name, sec).unwrap_or_else(|| panic!("{fam:?} '{name}' missing"))
        };
        let d = Family::Directive;

        let k = get(d, "timeout tunnel", Sections::BACKEND);
        assert_eq!(k.support, Support::Implemented);
        assert!(
            k.sections.contains(Sections::BACKEND) && !k.sections.intersects(Sections::FRONTEND)
        );
        assert!(get(d, "timeout client", Sections::FRONTEND)
            .sections
            .contains(Sections::DEFAULTS));
        assert_eq!(
            get(d, "acl", Sections::DEFAULTS).sections,
            Sections::PROXIES
        );

        assert_eq!(
            get(d, "nbproc", Sections::GLOBAL).support,
            Support::Removed(
                "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available."
            )
        );
        assert_eq!(
            get(d, "contimeout", Sections::DEFAULTS).support,
            Support::Removed("the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'.")
        );
        assert_eq!(
            get(d, "redispatch", Sections::LISTEN).support,
            Support::Removed("keyword 'redispatch' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'.")
        );
        assert_eq!(
            get(d, "reqadd", Sections::FRONTEND).support,
            Support::Removed("The 'reqadd' directive is not supported anymore since HAProxy 2.1. Use 'http-request add-header' instead.")
        );
        assert_eq!(
            get(d, "tune.ssl.default-dh-param", Sections::GLOBAL).support,
            Support::Accepted
        );
        assert_eq!(get(d, "grace", Sections::GLOBAL).support, Support::Accepted);
        assert!(matches!(
            get(d, "grace", Sections::LISTEN).support,
            Support::Removed(_)
        ));
        assert_eq!(
            get(d, "stats socket", Sections::GLOBAL).sections,
            Sections::GLOBAL
        );
        assert_eq!(
            get(d, "stats uri", Sections::LISTEN).support,
            Support::Implemented
        );

        // Same word, different sections, different rows.
        assert_eq!(
            get(d, "user", Sections::USERLIST).support,
            Support::Implemented
        );
        assert_eq!(
            get(d, "user", Sections::GLOBAL).support,
            Support::Implemented
        );
        assert_eq!(
            get(d, "user", Sections::PROGRAM).support,
            Support::Unsupported
        );
        assert_eq!(
            get(d, "maxconn", Sections::LOG_FORWARD).sections,
            Sections::LOG_FORWARD
        );
        assert_eq!(
            get(d, "timeout server", Sections::RING).sections,
            Sections::RING
        );

        assert_eq!(
            get(Family::ProxyOption, "forceclose", Sections::BACKEND).support,
            Support::Removed(
                "option 'forceclose' is not supported any more since HAProxy 2.0, please just remove it, or use 'option httpclose' if absolutely needed."
            )
        );
        assert_eq!(
            get(Family::ProxyOption, "httplog", Sections::FRONTEND).support,
            Support::Implemented
        );
        assert_eq!(
            get(Family::Section, "userlist", Sections::NONE).support,
            Support::Implemented
        );
        assert_eq!(
            get(Family::Section, "peers", Sections::NONE).support,
            Support::Unsupported
        );
        assert_eq!(
            get(Family::BindOption, "ssl", Sections::NONE).support,
            Support::Implemented
        );
        assert_eq!(
            get(Family::BindOption, "tfo", Sections::NONE).support,
            Support::Accepted
        );
        assert_eq!(
            get(Family::ServerOption, "no-check", Sections::NONE).support,
            Support::Implemented
        );
        assert_eq!(
            get(Family::ServerOption, "ssl", Sections::NONE).support,
            Support::Unsupported
        );
        assert_eq!(
            get(Family::HttpRequestAction, "set-header", Sections::NONE).support,
            Support::Implemented
        );
        assert!(lookup(Family::HttpRequestAction, "track-sc2", Sections::NONE).is_some());
        assert!(lookup(Family::TcpAction, "expect-proxy", Sections::NONE).is_some());
        assert_eq!(
            get(Family::Fetch, "hdr_beg", Sections::NONE).support,
            Support::Implemented
        );
        assert!(lookup(Family::Fetch, "sc0_http_req_rate", Sections::NONE).is_some());
        assert_eq!(
            get(Family::Converter, "lower", Sections::NONE).support,
            Support::Implemented
        );
        assert!(lookup(Family::Converter, "map_beg", Sections::NONE).is_some());

        // Unknown to HAProxy 2.6.12, so absent here.
        assert!(lookup(d, "debug", Sections::GLOBAL).is_none());
        assert!(lookup(d, "log-profile", Sections::DEFAULTS).is_none());
        assert!(lookup(Family::ProxyOption, "http-use-htx", Sections::DEFAULTS).is_none());
        assert!(lookup(Family::ServerOption, "no-verifyhost", Sections::NONE).is_none());
        assert!(lookup(Family::Fetch, "req.cookie", Sections::NONE).is_none());
    }
}
