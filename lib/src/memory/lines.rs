//! Memory lines as text: which lines of a MEMORY.md are memory, when two lines say the same
//! thing (a duplicate), and when they are about the same thing (the newer one wins). Pure and
//! deterministic; used by the builtin provider, csep-verify's quality checks, the budget fit
//! and `csep memory`.
//!
//! Two lines are **duplicates** when their normalized text is equal, or when their word sets
//! are at least [`NEAR_DUPLICATE`] alike (Dice), they forbid or allow alike, and they do not
//! each name something the other does not (`cargo fmt` vs `cargo clippy`, Node 20 vs 22):
//! a reworded repeat, not a second fact.
//!
//! Two lines have the **same subject** when they name the same version of a runtime (`Node
//! 20` / `Node 22`); or the same command, tool or path (a tool counts only when the lines do
//! not name two different subcommands of it: `make migrate` is not `make openapi`) and either
//! the same topic (test, build, lint, …) or no topic on one side; or the same first topic with
//! tools of one ecosystem on both sides (`npm test` / `pnpm test -- --run`, `cargo nextest
//! run` / `cargo test`, but not `cargo test` / `pnpm test`). Lines naming no tool, command,
//! path or version are never the same subject unless they are duplicates: a newer rule
//! replaces an older one only when what they are about is unmistakable.

use std::collections::BTreeSet;

/// How alike two lines' word sets must be (Dice coefficient) to be one fact said twice.
pub const NEAR_DUPLICATE: f64 = 0.8;

/// One memory line of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// 1-based line number in the file.
    pub line_no: usize,
    /// The line as written (no line end).
    pub raw: &'a str,
    /// The line without its list marker and surrounding spaces.
    pub body: &'a str,
}

/// The memory lines of a MEMORY.md: every non-blank line that is not a heading, a code
/// fence (or inside one), or an HTML comment.
pub fn entries(text: &str) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            continue;
        }
        if t.is_empty() || t.starts_with('#') || t.starts_with("<!--") {
            continue;
        }
        let body = strip_marker(t);
        if body.is_empty() {
            continue;
        }
        out.push(Entry {
            line_no: i + 1,
            raw,
            body,
        });
    }
    out
}

/// `t` without a leading list marker (`- `, `* `, `+ `, `1. `, `1) `) or task box.
fn strip_marker(t: &str) -> &str {
    let mut s = t;
    for m in ["- ", "* ", "+ "] {
        if let Some(r) = s.strip_prefix(m) {
            s = r;
            break;
        }
    }
    if s.len() == t.len() {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && digits < 4 {
            let rest = &s[digits..];
            if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
                s = r;
            }
        }
    }
    for b in ["[ ] ", "[x] ", "[X] "] {
        if let Some(r) = s.strip_prefix(b) {
            s = r;
        }
    }
    s.trim()
}

/// The comparable form of a line: lowercase, no list marker, no emphasis or backticks,
/// typographic quotes folded, trailing punctuation dropped, whitespace collapsed.
pub fn normalize(s: &str) -> String {
    let body = strip_marker(s.trim());
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len());
    let mut space = false;
    for (i, &c) in chars.iter().enumerate() {
        let c = match c {
            '*' | '`' => continue,
            '‘' | '’' | '\'' => {
                // An apostrophe inside a word is text ("don't"); a quote around one is not.
                let prev = i.checked_sub(1).map(|j| chars[j]);
                let next = chars.get(i + 1).copied();
                if prev.is_some_and(char::is_alphabetic) && next.is_some_and(char::is_alphabetic) {
                    '\''
                } else {
                    continue;
                }
            }
            '“' | '”' | '„' => '"',
            c => c,
        };
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out.trim_end_matches(['.', '。', '!', '！', ';', '；', ':', '：', ',', '，', ' '])
        .to_string()
}

/// Function words and the verbs a rule is phrased with: words that do not make one fact
/// another when only they differ.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "to",
    "of",
    "for",
    "in",
    "on",
    "with",
    "and",
    "or",
    "is",
    "are",
    "be",
    "it",
    "its",
    "this",
    "that",
    "these",
    "we",
    "you",
    "i",
    "me",
    "my",
    "our",
    "your",
    "by",
    "at",
    "as",
    "so",
    "please",
    "run",
    "use",
    "using",
    "used",
    "make",
    "sure",
    "do",
    "should",
    "must",
    "need",
    "always",
    "every",
    "time",
    "each",
    "just",
    "also",
    "here",
    "repo",
    "repository",
    "project",
    "now",
    "then",
    "when",
    "via",
    "from",
    "all",
    "any",
    "can",
    "will",
    "remember",
    "note",
    "that's",
    "it's",
    "we're",
    "you're",
    "let's",
    "via",
    "on",
    "instead",
    "prefer",
    "preferred",
    "rule",
    "rules",
    "going",
    "forward",
    "from now on",
];

fn stem(w: &str) -> String {
    let n = w.chars().count();
    if n > 3 && w.ends_with('s') && !w.ends_with("ss") && w.chars().all(char::is_alphabetic) {
        w[..w.len() - 1].to_string()
    } else {
        w.to_string()
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

/// The words of a normalized line: Latin words (stemmed), CJK text as character bigrams.
fn words(norm: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in norm.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ',' | ';'
                    | '('
                    | ')'
                    | '"'
                    | '!'
                    | '?'
                    | '，'
                    | '。'
                    | '；'
                    | '：'
                    | '、'
                    | '（'
                    | '）'
                    | '！'
                    | '？'
            )
    }) {
        let w = raw.trim_matches(|c: char| matches!(c, '.' | ':' | '\'' | '[' | ']'));
        if w.is_empty() {
            continue;
        }
        let mut latin = String::new();
        let mut cjk: Vec<char> = Vec::new();
        let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
            match cjk.len() {
                0 => {}
                1 => out.push(cjk[0].to_string()),
                _ => {
                    for p in cjk.windows(2) {
                        out.push(p.iter().collect());
                    }
                }
            }
            cjk.clear();
        };
        for c in w.chars() {
            if is_cjk(c) {
                if !latin.is_empty() {
                    out.push(stem(&latin));
                    latin.clear();
                }
                cjk.push(c);
            } else {
                flush_cjk(&mut cjk, &mut out);
                latin.push(c);
            }
        }
        flush_cjk(&mut cjk, &mut out);
        if !latin.is_empty() {
            out.push(stem(&latin));
        }
    }
    out
}

/// The words that carry a line's meaning: no filler, no punctuation-only tokens. A line of
/// filler alone keeps all its words.
fn word_set(s: &str) -> BTreeSet<String> {
    let all: BTreeSet<String> = words(&normalize(s))
        .into_iter()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    let content: BTreeSet<String> = all
        .iter()
        .filter(|w| !FILLER.contains(&w.as_str()))
        .cloned()
        .collect();
    if content.is_empty() {
        all
    } else {
        content
    }
}

fn dice(x: &BTreeSet<String>, y: &BTreeSet<String>) -> f64 {
    if x.is_empty() && y.is_empty() {
        return 1.0;
    }
    2.0 * x.intersection(y).count() as f64 / (x.len() + y.len()) as f64
}

/// How alike two lines are: the Dice coefficient of their meaningful word sets (0 to 1).
pub fn similarity(a: &str, b: &str) -> f64 {
    dice(&word_set(a), &word_set(b))
}

/// Whether `a` and `b` are one fact said twice (see the module doc).
pub fn is_duplicate(a: &str, b: &str) -> bool {
    let (na, nb) = (normalize(a), normalize(b));
    if na == nb {
        return true;
    }
    if na.is_empty() || nb.is_empty() || negative(a) != negative(b) {
        return false;
    }
    let (x, y) = (word_set(a), word_set(b));
    if dice(&x, &y) < NEAR_DUPLICATE {
        return false;
    }
    // Each naming a different command, tool, version or path: two facts sharing most words.
    let technical = |w: &String| {
        w.chars()
            .any(|c| c.is_ascii_digit() || matches!(c, '-' | '_' | '/' | '.'))
            || TOOLS.contains(&w.as_str())
    };
    let (only_x, only_y): (Vec<&String>, Vec<&String>) =
        (x.difference(&y).collect(), y.difference(&x).collect());
    only_x.is_empty() || only_y.is_empty() || !only_x.iter().chain(&only_y).any(|w| technical(w))
}

/// Prohibitions, as whole words (Latin) or as written (Chinese).
const NEGATIVE_WORDS: &[&str] = &[
    "never",
    "don't",
    "dont",
    "do not",
    "does not",
    "doesn't",
    "must not",
    "mustn't",
    "should not",
    "shouldn't",
    "no longer",
    "avoid",
    "stop",
    "not allowed",
    "forbidden",
];
const NEGATIVE_CJK: &[&str] = &[
    "不要", "别", "不能", "禁止", "切勿", "不准", "勿", "不许", "不再",
];

/// Whether the line forbids something (never, don't, do not, avoid, 不要, 别 …).
pub fn negative(s: &str) -> bool {
    let n = normalize(s);
    if NEGATIVE_CJK.iter().any(|w| n.contains(w)) {
        return true;
    }
    let padded = format!(
        " {} ",
        n.chars()
            .map(|c| if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            })
            .collect::<String>()
    );
    NEGATIVE_WORDS
        .iter()
        .any(|w| padded.contains(&format!(" {w} ")))
}

/// Programs a memory line may name without backticks. A code span's first word counts too.
const TOOLS: &[&str] = &[
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_skip_headings_fences_comments_and_blanks() {
        let md = "# Memory\n\n- Run `cargo test`.\n<!-- note -->\n```sh\n- not a line\n```\n* Use pnpm\n1. Ask first\n## Rules\n";
        let e: Vec<(usize, &str)> = entries(md).iter().map(|e| (e.line_no, e.body)).collect();
        assert_eq!(
            e,
            vec![(3, "Run `cargo test`."), (8, "Use pnpm"), (9, "Ask first")]
        );
    }

    #[test]
    fn normalize_folds_markup_case_quotes_and_punctuation() {
        assert_eq!(
            normalize("- **Always** run `cargo test`."),
            "always run cargo test"
        );
        assert_eq!(normalize("Don’t push to main!"), "don't push to main");
        assert_eq!(normalize("  以后都用 pnpm。 "), "以后都用 pnpm");
    }

    #[test]
    fn reworded_repeats_are_duplicates_and_different_facts_are_not() {
        assert!(is_duplicate(
            "- Run the tests with `pnpm test -- --run`.",
            "Tests: use `pnpm test -- --run`"
        ));
        assert!(is_duplicate(
            "Always run cargo fmt before committing",
            "- always run `cargo fmt` before committing."
        ));
        assert!(!is_duplicate(
            "Always run `cargo fmt` before committing",
            "Always run `cargo clippy` before committing"
        ));
        assert!(!is_duplicate(
            "This repo uses Node 20",
            "This repo uses Node 22"
        ));
        assert!(!is_duplicate("Always push to main", "Never push to main"));
        assert!(!is_duplicate("Never push to main", "Never push to dev"));
        assert!(is_duplicate(
            "Keep pull request descriptions short and factual",
            "Keep pull request descriptions brief and factual"
        ));
        assert!(!is_duplicate(
            "Format with `cargo fmt` before every commit",
            "Format with `cargo clippy` before every commit"
        ));
        assert!(is_duplicate("以后提交前先跑测试", "以后提交前先跑测试。"));
        assert!(similarity("a b c", "a b c") > 0.99 && similarity("x", "y") < 0.01);
    }

    #[test]
    fn prohibitions_are_negative() {
        for s in [
            "Never force-push",
            "Don't call docker compose",
            "do not edit vendor/",
            "不要修改生成的文件",
            "别再用 npm",
        ] {
            assert!(negative(s), "{s}");
        }
        for s in [
            "Always run tests",
            "Use pnpm, not npm",
            "Prefer small commits",
        ] {
            assert!(!negative(s), "{s}");
        }
    }

    #[test]
    fn the_same_subject_is_recognised_and_unrelated_rules_are_kept_apart() {
        let same = |a: &str, b: &str| subject(a).same_as(&subject(b));
        assert!(same(
            "Run the tests with `npm test`.",
            "Use `pnpm test -- --run` for tests."
        ));
        assert!(same("This repo uses Node 20.", "We are on Node 22 now."));
        assert!(same(
            "Start services with `docker compose up -d`.",
            "Don't call docker compose; use `make services`."
        ));
        assert!(same("Run tests with npm test", "Use pnpm, not npm"));
        assert!(same(
            "Never edit `src/generated/api.ts`.",
            "You may edit src/generated/api.ts now."
        ));
        assert!(same("测试用 `npm test`", "以后用 pnpm 跑测试"));
        assert!(!same(
            "Always run `cargo fmt` before committing.",
            "Never commit to main directly."
        ));
        assert!(!same(
            "Run `cargo test` for tests.",
            "Never run `cargo publish`."
        ));
        assert!(!same(
            "Always use `uv run pytest`.",
            "Use `uv pip install` for dependencies."
        ));
        assert!(!same(
            "Ask before deleting files.",
            "Ask before running migrations."
        ));
        assert!(!same(
            "Prefer small commits.",
            "Never commit to main directly."
        ));
    }
}
