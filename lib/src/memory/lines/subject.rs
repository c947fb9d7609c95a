//! What a memory line is about ([`Subject`]): the tools, commands, paths, runtime versions and
//! topics it names, and when two lines are about the same thing (the rules are in the parent's
//! module doc). The tool list also tells [`super::is_duplicate`] which words are technical.

use std::collections::BTreeSet;

use super::{is_cjk, normalize};

/// Programs a memory line may name without backticks. A code span's first word counts too.
pub(super) const TOOLS: &[&str] = &[
    "npm",
    "pnpm",
    "yarn",
    "bun",
    "npx",
    "node",
    "nodejs",
    "deno",
    "cargo",
    "rustc",
    "rustup",
    "go",
    "python",
    "python3",
    "pip",
    "pip3",
    "uv",
    "poetry",
    "pytest",
    "tox",
    "ruff",
    "black",
    "mypy",
    "make",
    "cmake",
    "docker",
    "podman",
    "kubectl",
    "helm",
    "terraform",
    "git",
    "gh",
    "java",
    "mvn",
    "maven",
    "gradle",
    "ruby",
    "bundle",
    "rake",
    "rails",
    "php",
    "composer",
    "dotnet",
    "swift",
    "xcodebuild",
    "jest",
    "vitest",
    "mocha",
    "eslint",
    "prettier",
    "tsc",
    "webpack",
    "vite",
    "nvm",
    "brew",
    "psql",
    "postgres",
    "postgresql",
    "redis",
    "mysql",
    "sqlite",
    "aws",
    "gcloud",
    "az",
    "just",
    "bazel",
    "nix",
    "clippy",
    "rustfmt",
    "gofmt",
    "golangci-lint",
    "pre-commit",
    "husky",
    "lerna",
    "turbo",
    "nx",
    "playwright",
    "cypress",
];

/// The ecosystem a tool belongs to (a key's first word), for tools that do one job in it
/// several ways.
fn family(key: &str) -> Option<&'static str> {
    let tool = key.split(' ').next().unwrap_or(key);
    Some(match tool {
        "npm" | "pnpm" | "yarn" | "bun" | "npx" | "node" | "nodejs" | "deno" | "jest"
        | "vitest" | "mocha" | "eslint" | "prettier" | "tsc" | "webpack" | "vite" | "nvm"
        | "lerna" | "turbo" | "nx" | "playwright" | "cypress" | "husky" => "js",
        "cargo" | "rustc" | "rustup" | "clippy" | "rustfmt" => "rust",
        "python" | "python3" | "pip" | "pip3" | "uv" | "poetry" | "pytest" | "tox" | "ruff"
        | "black" | "mypy" => "python",
        "go" | "gofmt" | "golangci-lint" => "go",
        "docker" | "podman" | "kubectl" | "helm" => "containers",
        "java" | "mvn" | "maven" | "gradle" => "jvm",
        "ruby" | "bundle" | "rake" | "rails" => "ruby",
        "php" | "composer" => "php",
        "git" | "gh" => "git",
        _ => return None,
    })
}

/// Runtimes whose version a line may pin.
const RUNTIMES: &[&str] = &[
    "node",
    "nodejs",
    "python",
    "python3",
    "ruby",
    "go",
    "golang",
    "java",
    "rust",
    "rustc",
    "postgres",
    "postgresql",
    "pg",
    "redis",
    "php",
    "dotnet",
    "npm",
    "pnpm",
    "yarn",
    "deno",
    "bun",
    "elixir",
    "erlang",
    "kotlin",
    "swift",
    "mysql",
    "ubuntu",
    "debian",
    "alpine",
];

/// Topic families: a line about any of the words is about the topic.
const TOPICS: &[(&str, &[&str])] = &[
    (
        "test",
        &[
            "test", "tests", "testing", "tested", "spec", "specs", "unittest", "pytest", "jest",
            "vitest", "测试", "单测",
        ],
    ),
    (
        "build",
        &[
            "build",
            "builds",
            "building",
            "compile",
            "compiling",
            "bundle",
            "构建",
            "编译",
        ],
    ),
    (
        "lint",
        &[
            "lint",
            "linter",
            "linting",
            "clippy",
            "eslint",
            "ruff",
            "golangci-lint",
            "静态检查",
        ],
    ),
    (
        "format",
        &[
            "format",
            "formatting",
            "formatter",
            "fmt",
            "prettier",
            "rustfmt",
            "gofmt",
            "black",
            "indent",
            "indentation",
            "tabs",
            "spaces",
            "格式化",
            "缩进",
        ],
    ),
    (
        "deploy",
        &[
            "deploy",
            "deploys",
            "deployment",
            "release",
            "releases",
            "publish",
            "发布",
            "部署",
            "上线",
        ],
    ),
    ("commit", &["commit", "commits", "committing", "提交"]),
    ("push", &["push", "pushing", "force-push", "推送"]),
    ("branch", &["branch", "branches", "rebase", "merge", "分支"]),
    (
        "install",
        &[
            "install",
            "installing",
            "dependency",
            "dependencies",
            "deps",
            "package",
            "packages",
            "lockfile",
            "依赖",
            "安装",
        ],
    ),
    (
        "services",
        &[
            "service",
            "services",
            "container",
            "containers",
            "compose",
            "database",
            "db",
            "服务",
            "容器",
            "数据库",
        ],
    ),
    (
        "migration",
        &["migration", "migrations", "migrate", "schema", "迁移"],
    ),
    (
        "docs",
        &["docs", "documentation", "readme", "changelog", "文档"],
    ),
    (
        "review",
        &[
            "review",
            "reviews",
            "pr",
            "prs",
            "pull request",
            "评审",
            "审查",
        ],
    ),
    (
        "style",
        &[
            "style", "naming", "comment", "comments", "风格", "命名", "注释",
        ],
    ),
];

/// What a line is about (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// Commands (`tool` and `tool subcommand`), tools and paths named.
    pub keys: BTreeSet<String>,
    /// Topics in the order the line first names them.
    pub topics: Vec<String>,
    /// Runtimes whose version the line names (`version:node`).
    pub versions: BTreeSet<String>,
}

impl Subject {
    /// Whether two lines are about the same thing (see the module doc).
    pub fn same_as(&self, other: &Subject) -> bool {
        if self.versions.intersection(&other.versions).next().is_some() {
            return true;
        }
        // A tool both name counts only when they do not name two different subcommands of
        // it: `make migrate` and `make openapi` are two things.
        let subcommands = |s: &Subject, tool: &str| -> BTreeSet<String> {
            s.keys
                .iter()
                .filter_map(|k| k.strip_prefix(tool).and_then(|r| r.strip_prefix(' ')))
                .map(str::to_string)
                .collect()
        };
        let shared_key = self.keys.intersection(&other.keys).any(|k| {
            k.contains(' ') || {
                let (a, b) = (subcommands(self, k), subcommands(other, k));
                a.is_empty() || b.is_empty() || a.intersection(&b).next().is_some()
            }
        });
        let shared_topic = self.topics.iter().any(|t| other.topics.contains(t));
        if shared_key && (shared_topic || self.topics.is_empty() || other.topics.is_empty()) {
            return true;
        }
        // Two tools of one ecosystem for the same first topic: `npm test` and `pnpm test`,
        // `cargo nextest run` and `cargo test`; not `cargo test` and `pnpm test` in a repo
        // with both.
        let families = |s: &Subject| -> BTreeSet<&'static str> {
            s.keys.iter().filter_map(|k| family(k)).collect()
        };
        !self.topics.is_empty()
            && self.topics.first() == other.topics.first()
            && families(self)
                .intersection(&families(other))
                .next()
                .is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.topics.is_empty() && self.versions.is_empty()
    }
}

/// Inline code spans of a line (between single or double backticks).
fn code_spans(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('`') {
        let after = &rest[i..];
        let n = after.bytes().take_while(|&b| b == b'`').count();
        let body = &after[n..];
        let close = "`".repeat(n);
        match body.find(&close) {
            Some(j) => {
                let span = body[..j].trim();
                if !span.is_empty() {
                    out.push(span);
                }
                rest = &body[j + n..];
            }
            None => break,
        }
    }
    out
}

fn looks_like_path(w: &str) -> bool {
    let w = w.trim_matches(|c: char| matches!(c, '\'' | '"' | ',' | '.' | ')' | '(' | ':'));
    if w.len() < 3 || w.contains("://") {
        return false;
    }
    if w.starts_with('/') || w.starts_with("~/") || w.starts_with("./") || w.starts_with("../") {
        return w.len() > 2;
    }
    if let Some((_, last)) = w.rsplit_once('/') {
        return w.matches('/').count() >= 2
            || w.ends_with('/')
            || last.rsplit_once('.').is_some_and(|(a, e)| {
                !a.is_empty()
                    && (1..=5).contains(&e.len())
                    && e.chars().all(|c| c.is_ascii_alphanumeric())
            });
    }
    // A file name with a known extension (`Makefile` style names are tools, not paths).
    w.rsplit_once('.').is_some_and(|(a, e)| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            && matches!(
                e,
                "md" | "rs"
                    | "py"
                    | "js"
                    | "ts"
                    | "tsx"
                    | "jsx"
                    | "json"
                    | "toml"
                    | "yaml"
                    | "yml"
                    | "lock"
                    | "sh"
                    | "go"
                    | "rb"
                    | "java"
                    | "c"
                    | "h"
                    | "cpp"
                    | "sql"
                    | "env"
                    | "cfg"
                    | "ini"
                    | "txt"
            )
    })
}

/// A command's keys: its tool, and tool + subcommand (`docker compose`, `cargo test`).
fn command_keys(span: &str, keys: &mut BTreeSet<String>) {
    let mut it = span
        .split_whitespace()
        .filter(|w| !w.contains('=') || w.starts_with('-'));
    let Some(first) = it.next() else { return };
    let tool = first.trim_start_matches("./").to_lowercase();
    let tool = match tool.as_str() {
        "npx" | "pnpx" | "bunx" | "uvx" | "sudo" | "time" | "env" => match it.next() {
            Some(t) => t.to_lowercase(),
            None => tool,
        },
        _ => tool,
    };
    if tool.is_empty() || tool.starts_with('-') {
        return;
    }
    if looks_like_path(&tool) && !tool.starts_with("./") {
        keys.insert(tool.clone());
    }
    keys.insert(tool.clone());
    if let Some(sub) = it.next() {
        let sub = sub.to_lowercase();
        if sub
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
            && !sub.starts_with('-')
        {
            keys.insert(format!("{tool} {sub}"));
        }
    }
}

/// What `s` is about.
pub fn subject(s: &str) -> Subject {
    let mut subj = Subject::default();
    for span in code_spans(s) {
        command_keys(span, &mut subj.keys);
        for w in span.split_whitespace() {
            if looks_like_path(w) {
                subj.keys.insert(w.trim_end_matches(['.', ',']).to_string());
            }
        }
    }
    let n = normalize(s);
    let plain: Vec<&str> = n
        .split(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    ',' | ';' | '(' | ')' | '"' | '\'' | '!' | '?' | '，' | '。' | '；' | '、'
                )
        })
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ':')))
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in plain.iter().enumerate() {
        let latin: String = w.chars().filter(|c| !is_cjk(*c)).collect();
        for part in [w.to_string(), latin] {
            if TOOLS.contains(&part.as_str()) {
                subj.keys.insert(part.clone());
                if part == "docker" && plain.get(i + 1) == Some(&"compose") {
                    subj.keys.insert("docker compose".into());
                }
            }
        }
        if looks_like_path(w) {
            subj.keys.insert(w.trim_end_matches(['.', ',']).to_string());
        }
        // `node 20`, `python 3.12`, `node v22`, `node22`, `node.js 20`
        let name = w.trim_end_matches(".js");
        let (base, digits) = match name.find(|c: char| c.is_ascii_digit()) {
            Some(k) if k > 0 => (&name[..k], &name[k..]),
            _ => (name, ""),
        };
        if RUNTIMES.contains(&base) {
            let next = plain.get(i + 1).map(|x| x.trim_start_matches('v'));
            let versioned = (!digits.is_empty()
                && digits.chars().all(|c| c.is_ascii_digit() || c == '.'))
                || next.is_some_and(|x| {
                    !x.is_empty() && x.chars().next().is_some_and(|c| c.is_ascii_digit())
                });
            if versioned {
                subj.versions
                    .insert(format!("version:{}", canonical_runtime(base)));
            }
        }
    }
    // Topics in the order the line names them.
    let mut found: Vec<(usize, &str)> = Vec::new();
    let padded = format!(" {} ", plain.join(" "));
    for (topic, ws) in TOPICS {
        let mut first: Option<usize> = None;
        for w in *ws {
            let pos = if w.chars().any(is_cjk) {
                padded.find(w)
            } else {
                padded.find(&format!(" {w} "))
            };
            if let Some(p) = pos {
                first = Some(first.map_or(p, |f: usize| f.min(p)));
            }
        }
        if let Some(p) = first {
            found.push((p, topic));
        }
    }
    found.sort();
    subj.topics = found.into_iter().map(|(_, t)| t.to_string()).collect();
    subj
}

fn canonical_runtime(s: &str) -> &str {
    match s {
        "nodejs" => "node",
        "python3" => "python",
        "golang" => "go",
        "rustc" => "rust",
        "postgresql" | "pg" => "postgres",
        other => other,
    }
}
