//! Which supervisord processes a check answers for: `-p name`, `-p group:name`,
//! `-p group:*`, or `-a` (every process but this listener and `--exclude`).
//! Pure matching over process infos; no IO.

use crate::supervisor::model::ProcessInfo;

/// The programs a check restarts when it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `-p` specs (may be empty: the check then only probes, logs and mails).
    Programs(Vec<String>),
    /// `-a`.
    Any,
}

/// The processes that must never be restarted: this listener and `--exclude` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exclusions {
    /// This listener's namespec, from SUPERVISOR_GROUP_NAME / SUPERVISOR_PROCESS_NAME.
    pub own: Option<String>,
    pub names: Vec<String>,
}

impl Exclusions {
    pub fn excludes(&self, info: &ProcessInfo) -> bool {
        let namespec = info.namespec();
        self.own.as_deref() == Some(namespec.as_str())
            || self.names.iter().any(|n| spec_matches(n, info))
    }
}

/// Every check's selection and the exclusions: whether a process is any check's to
/// restart. Fixed for httpok's life, so a restart thread can hold its own copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Naming {
    pub selections: Vec<Selection>,
    pub exclusions: Exclusions,
}

impl Naming {
    /// Does a check name the process (and no exclusion spare it)?
    pub fn names(&self, info: &ProcessInfo) -> bool {
        let namespec = info.namespec();
        !self.exclusions.excludes(info) && self.selections.iter().any(|s| s.names(&namespec))
    }
}

/// What a selection resolves to against the current process list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// Matching processes in supervisord's order, without duplicates and exclusions.
    pub processes: Vec<&'a ProcessInfo>,
    /// `-p` specs that matched nothing ("did not exist").
    pub missing: Vec<String>,
    /// `-p name` specs that match processes in several groups: restarting all of them
    /// would be superlance's bug, so none are restarted and the user is told.
    pub ambiguous: Vec<(String, Vec<String>)>,
}

impl Selection {
    /// Does it name the process with this namespec (exclusions aside)?
    pub fn names(&self, namespec: &str) -> bool {
        match self {
            Selection::Any => true,
            Selection::Programs(specs) => specs
                .iter()
                .any(|spec| spec_matches_namespec(spec, namespec)),
        }
    }

    /// The specs as one word for notices and metrics: `web,api:*`, or `*` for -a.
    pub fn label(&self) -> String {
        match self {
            Selection::Any => "*".to_string(),
            Selection::Programs(p) => p.join(","),
        }
    }

    pub fn resolve<'a>(&self, all: &'a [ProcessInfo], exclusions: &Exclusions) -> Resolved<'a> {
        let mut resolved = Resolved::default();
        let push = |resolved: &mut Resolved<'a>, info: &'a ProcessInfo| {
            if !exclusions.excludes(info)
                && !resolved.processes.iter().any(|p| std::ptr::eq(*p, info))
            {
                resolved.processes.push(info);
            }
        };
        match self {
            Selection::Any => {
                for info in all {
                    push(&mut resolved, info);
                }
            }
            Selection::Programs(specs) => {
                for spec in specs {
                    let matches: Vec<&ProcessInfo> =
                        all.iter().filter(|i| spec_matches(spec, i)).collect();
                    if matches.is_empty() {
                        resolved.missing.push(spec.clone());
                    } else if is_ambiguous(spec, &matches) {
                        let names = matches.iter().map(|i| i.namespec()).collect();
                        resolved.ambiguous.push((spec.clone(), names));
                    } else {
                        for info in matches {
                            push(&mut resolved, info);
                        }
                    }
                }
            }
        }
        resolved.processes.sort_by_key(|info| {
            all.iter()
                .position(|i| std::ptr::eq(i, *info))
                .unwrap_or(usize::MAX)
        });
        resolved
    }
}

/// Does one `-p`/`--exclude` spec name this process?
pub fn spec_matches(spec: &str, info: &ProcessInfo) -> bool {
    match spec.split_once(':') {
        Some((group, "*")) => info.group == group,
        Some((group, name)) => info.group == group && info.name == name,
        None => info.name == spec,
    }
}

/// Does a spec name the process with this namespec (`name` or `group:name`)?
pub fn spec_matches_namespec(spec: &str, namespec: &str) -> bool {
    let (group, name) = namespec.split_once(':').unwrap_or((namespec, namespec));
    spec_matches(
        spec,
        &ProcessInfo {
            group: group.to_string(),
            name: name.to_string(),
            ..ProcessInfo::default()
        },
    )
}

/// A bare `name` that hits processes in more than one group.
fn is_ambiguous(spec: &str, matches: &[&ProcessInfo]) -> bool {
    !spec.contains(':') && matches.iter().any(|m| m.group != matches[0].group)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(group: &str, name: &str) -> ProcessInfo {
        ProcessInfo {
            name: name.into(),
            group: group.into(),
            ..ProcessInfo::default()
        }
    }

    fn names(r: &Resolved<'_>) -> Vec<String> {
        r.processes.iter().map(|p| p.namespec()).collect()
    }

    fn all() -> Vec<ProcessInfo> {
        vec![
            info("httpok", "httpok"),
            info("web", "web"),
            info("workers", "w0"),
            info("workers", "w1"),
        ]
    }

    #[test]
    fn a_bare_name_matches_by_name_and_group_name_by_namespec() {
        let all = all();
        let none = Exclusions::default();
        let r = Selection::Programs(vec!["web".into(), "workers:w1".into()]).resolve(&all, &none);
        assert_eq!(names(&r), ["web", "workers:w1"]);
        let r = Selection::Programs(vec!["w0".into()]).resolve(&all, &none);
        assert_eq!(names(&r), ["workers:w0"]);
    }

    #[test]
    fn group_star_selects_the_whole_group() {
        let all = all();
        let r = Selection::Programs(vec!["workers:*".into()]).resolve(&all, &Exclusions::default());
        assert_eq!(names(&r), ["workers:w0", "workers:w1"]);
    }

    #[test]
    fn unknown_specs_are_reported_missing() {
        let all = all();
        let r = Selection::Programs(vec!["nope".into(), "web:nope".into(), "x:*".into()])
            .resolve(&all, &Exclusions::default());
        assert!(r.processes.is_empty());
        assert_eq!(r.missing, ["nope", "web:nope", "x:*"]);
    }

    #[test]
    fn any_skips_this_listener_and_exclusions() {
        let all = all();
        let ex = Exclusions {
            own: Some("httpok".into()),
            names: vec!["workers:w0".into()],
        };
        let r = Selection::Any.resolve(&all, &ex);
        assert_eq!(names(&r), ["web", "workers:w1"]);
    }

    #[test]
    fn a_bare_name_in_two_groups_is_ambiguous_not_restarted_everywhere() {
        let all = vec![info("a", "web"), info("b", "web")];
        let r = Selection::Programs(vec!["web".into()]).resolve(&all, &Exclusions::default());
        assert!(r.processes.is_empty());
        assert_eq!(
            r.ambiguous,
            [(
                "web".to_string(),
                vec!["a:web".to_string(), "b:web".to_string()]
            )]
        );
    }

    #[test]
    fn duplicates_are_restarted_once_in_supervisord_order() {
        let all = all();
        let r = Selection::Programs(vec!["workers:w1".into(), "workers:*".into(), "web".into()])
            .resolve(&all, &Exclusions::default());
        assert_eq!(names(&r), ["web", "workers:w0", "workers:w1"]);
    }

    #[test]
    fn own_listener_is_never_selected_even_by_name() {
        let all = all();
        let ex = Exclusions {
            own: Some("httpok".into()),
            names: vec![],
        };
        let r = Selection::Programs(vec!["httpok".into()]).resolve(&all, &ex);
        assert!(r.processes.is_empty());
    }
}
