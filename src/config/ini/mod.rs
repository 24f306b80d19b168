//! Reader for Asterisk's configuration file syntax (`pjsip.conf`, `extensions.conf`).
//!
//! What it understands, following Asterisk's `main/config.c`:
//! - `[name]` sections; `[name](!)` templates; `[name](base1,base2)` inheritance (the bases'
//!   variables are copied, in order, before the section's own); `[name](!,base)`;
//!   `[name](+)` appends to an earlier section of the same name.
//! - `name = value`, `name => value` (same as `=`), `name += value` (appends text to the last
//!   variable of that name in the section, or acts as `=`).
//! - `;` comments, `;-- ... --;` block comments (nesting), `\;` for a literal semicolon.
//! - `#include` / `#tryinclude` with quotes, angle brackets or bare names, relative names
//!   resolved against the configuration directory, globs, and include loops detected.
//!
//! Every variable keeps the file and line it was written on (for an inherited variable, the
//! template's line). The reader performs no I/O of its own: files come from a [`ConfigFs`].
//!
//! Errors that make the whole file meaningless (an unreadable file, a missing `#include`, an
//! include loop) are returned as `Err`; errors confined to one section mark that section
//! invalid and are returned as diagnostics, so the other sections still load.

mod fs;
mod lexer;

use foldhash::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use fs::{ConfigFs, MAX_FILE_SIZE, MemFs, RealFs};
use lexer::{Directive, Line, LineLexer};

use super::diagnostic::Diagnostic;
use super::source::Location;

/// Longest line accepted, in bytes. Real lines are short; a huge one is garbage.
pub const MAX_LINE_LEN: usize = 64 * 1024;
/// Deepest `#include` nesting accepted.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Diagnostics reported per file before the rest are summarised.
const MAX_DIAGNOSTICS_PER_FILE: usize = 100;

/// One `name = value` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// Option name, trimmed.
    pub name: String,
    /// Value, trimmed, with `\;` unescaped.
    pub value: String,
    /// Where it was written.
    pub location: Location,
}

/// One `[section]`, with its inherited variables resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The section name (object id).
    pub name: String,
    /// Where its header is.
    pub location: Location,
    /// `(!)`: a template, never an object of its own.
    pub is_template: bool,
    /// The templates or sections it inherits from, as written.
    pub bases: Vec<String>,
    /// Inherited variables first (in base order), then its own, in file order. Shared with
    /// the templates they come from: 10,000 endpoints of one template hold one copy of it.
    pub variables: Vec<Arc<Variable>>,
    /// An error was reported inside this section; it must not become an object.
    pub invalid: bool,
    /// [`LineDigest`] of each variable, in the same order: computed once when the line is
    /// read (inherited ones copied), so a reload can tell unchanged sections cheaply.
    pub line_digests: Vec<LineDigest>,
}

/// A 128-bit digest of one `name = value` line (its position excluded), from two
/// independently seeded hashes fixed for the life of the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineDigest(pub u64, pub u64);

impl LineDigest {
    /// The digest of a line.
    pub fn of(name: &str, value: &str) -> Self {
        use std::hash::{BuildHasher, Hasher};
        static KEYS: std::sync::LazyLock<(
            foldhash::quality::RandomState,
            foldhash::quality::RandomState,
        )> = std::sync::LazyLock::new(Default::default);
        let mut a = KEYS.0.build_hasher();
        let mut b = KEYS.1.build_hasher();
        for h in [&mut a, &mut b] {
            // The NUL separator keeps ("ab","c") apart from ("a","bc"): names hold no NUL.
            h.write(name.as_bytes());
            h.write_u8(0);
            h.write(value.as_bytes());
        }
        Self(a.finish(), b.finish())
    }
}

impl Section {
    /// The last value of `name`, if any.
    pub fn last(&self, name: &str) -> Option<&Variable> {
        self.variables
            .iter()
            .rev()
            .find(|v| v.name == name)
            .map(|v| &**v)
    }
}

/// A whole configuration file with its includes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    /// Sections in file order (includes expanded where they appear).
    pub sections: Vec<Section>,
    /// Every file read, main file first.
    pub files: Vec<PathBuf>,
}

impl Document {
    /// Sections that can become objects: not templates, not invalid.
    pub fn objects(&self) -> impl Iterator<Item = &Section> {
        self.sections
            .iter()
            .filter(|s| !s.is_template && !s.invalid)
    }
}

/// The result of reading a file: the document and the non-fatal problems found.
#[derive(Clone, Debug, Default)]
pub struct ReadResult {
    /// The parsed document.
    pub document: Document,
    /// Problems confined to sections or lines.
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads `path` and everything it includes. Relative `#include` names resolve against
/// `path`'s directory (Asterisk's config directory).
pub fn read_file(fs: &dyn ConfigFs, path: &Path) -> Result<ReadResult, Box<Diagnostic>> {
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut reader = Reader {
        fs,
        base_dir,
        stack: Vec::new(),
        doc: Document::default(),
        by_name: HashMap::default(),
        current: Current::None,
        diagnostics: Vec::new(),
    };
    reader.read(path, None, false)?;
    Ok(ReadResult {
        document: reader.doc,
        diagnostics: reader.diagnostics,
    })
}

/// Reads configuration text held in memory, as if it were the file `name`.
/// `#include` lines are resolved against `fs`.
pub fn read_str(fs: &dyn ConfigFs, name: &Path, text: &str) -> Result<ReadResult, Box<Diagnostic>> {
    let mut mem = MemFs::new();
    mem.insert(name, text.as_bytes().to_vec());
    let overlay = Overlay {
        top: &mem,
        rest: fs,
    };
    read_file(&overlay, name)
}

/// Looks in `top` first, then `rest`.
struct Overlay<'a> {
    top: &'a MemFs,
    rest: &'a dyn ConfigFs,
}

impl ConfigFs for Overlay<'_> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.top.read(path).or_else(|_| self.rest.read(path))
    }
    fn canonical(&self, path: &Path) -> std::io::Result<PathBuf> {
        self.top
            .canonical(path)
            .or_else(|_| self.rest.canonical(path))
    }
    fn glob(&self, pattern: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut v = self.top.glob(pattern)?;
        v.extend(self.rest.glob(pattern)?);
        v.sort();
        v.dedup();
        Ok(v)
    }
}

/// Which section new variables go to.
#[derive(Clone, Copy, Debug)]
enum Current {
    /// Before the first section header.
    None,
    /// The section at this index.
    Section(usize),
}

struct Reader<'a> {
    fs: &'a dyn ConfigFs,
    base_dir: PathBuf,
    /// Canonical paths of the files being read, outermost first (loop detection).
    stack: Vec<PathBuf>,
    doc: Document,
    /// Section indexes by name, in order of appearance.
    by_name: HashMap<String, Vec<usize>>,
    current: Current,
    diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn read(
        &mut self,
        path: &Path,
        from: Option<&Location>,
        optional: bool,
    ) -> Result<(), Box<Diagnostic>> {
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(Box::new(Diagnostic::error(
                from.cloned(),
                format!(
                    "#include nested more than {MAX_INCLUDE_DEPTH} deep at '{}'",
                    path.display()
                ),
            )));
        }
        let canonical = match self.fs.canonical(path) {
            Ok(c) => c,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Box::new(open_error(path, from, &e))),
        };
        if let Some(pos) = self.stack.iter().position(|p| *p == canonical) {
            let mut chain: Vec<String> = self.stack[pos..]
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            chain.push(canonical.display().to_string());
            return Err(Box::new(Diagnostic::error(
                from.cloned(),
                format!("#include loop: {}", chain.join(" -> ")),
            )));
        }
        let bytes = match self.fs.read(path) {
            Ok(b) => b,
            Err(e) => return Err(Box::new(open_error(path, from, &e))),
        };
        self.stack.push(canonical);
        self.doc.files.push(path.to_path_buf());
        let file: Arc<Path> = Arc::from(path);
        let result = self.read_bytes(&file, &bytes);
        self.stack.pop();
        result
    }

    fn read_bytes(&mut self, file: &Arc<Path>, bytes: &[u8]) -> Result<(), Box<Diagnostic>> {
        let mut lexer = LineLexer::new(bytes, MAX_LINE_LEN);
        // Problems of this file's own lines (not of the files it includes).
        let mut own_problems = 0;
        while let Some((line_no, line)) = lexer.next_line() {
            let loc = Location::new(file.clone(), line_no);
            let before = self.diagnostics.len();
            let is_directive = matches!(line, Ok(Line::Directive(_)));
            match line {
                Ok(Line::Blank) => {}
                Ok(Line::Header {
                    name,
                    template,
                    append,
                    bases,
                }) => self.on_header(name, template, append, bases, loc),
                Ok(Line::Variable { name, op, value }) => self.on_variable(name, op, value, loc),
                Ok(Line::Directive(d)) => self.on_directive(d, &loc)?,
                Err(message) => self.line_error(loc, message),
            }
            if !is_directive {
                own_problems += self.diagnostics.len() - before;
            }
            if own_problems >= MAX_DIAGNOSTICS_PER_FILE {
                self.diagnostics.push(Diagnostic::error(
                    Some(Location::new(file.clone(), line_no)),
                    "too many errors in this file; the rest of it was not read",
                ));
                self.invalidate_current();
                break;
            }
        }
        if lexer.in_block_comment() {
            self.diagnostics.push(Diagnostic::warning(
                Some(Location::new(file.clone(), lexer.block_comment_start())),
                "block comment ';--' is never closed with '--;'",
            ));
        }
        Ok(())
    }

    fn line_error(&mut self, loc: Location, message: String) {
        let mut d = Diagnostic::error(Some(loc), message);
        if let Current::Section(i) = self.current {
            d = d.with_object("section", &self.doc.sections[i].name);
        }
        self.diagnostics.push(d);
        self.invalidate_current();
    }

    fn invalidate_current(&mut self) {
        if let Current::Section(i) = self.current {
            self.doc.sections[i].invalid = true;
        }
    }

    fn on_header(
        &mut self,
        name: String,
        template: bool,
        append: bool,
        bases: Vec<String>,
        loc: Location,
    ) {
        if append {
            match self.by_name.get(&name).and_then(|v| v.last()) {
                Some(&idx) => self.current = Current::Section(idx),
                None => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            Some(loc.clone()),
                            format!(
                                "[{name}](+) appends to a section that does not exist before it"
                            ),
                        )
                        .with_object("section", &name),
                    );
                    // Collect the lines somewhere harmless so they are not added elsewhere.
                    self.push_section(name, loc, false, bases, (Vec::new(), Vec::new()), true);
                }
            }
            return;
        }
        let mut variables = Vec::new();
        let mut line_digests = Vec::new();
        let mut invalid = false;
        for base in &bases {
            match self.by_name.get(base).and_then(|v| v.last()) {
                Some(&idx) => {
                    let b = &self.doc.sections[idx];
                    if b.invalid {
                        invalid = true;
                        self.diagnostics.push(
                            Diagnostic::error(
                                Some(loc.clone()),
                                format!("inherits from '{base}', which has errors"),
                            )
                            .with_object("section", &name),
                        );
                    }
                    variables.extend(b.variables.iter().cloned());
                    line_digests.extend_from_slice(&b.line_digests);
                }
                None => {
                    invalid = true;
                    let hint = did_you_mean(base, self.by_name.keys().map(String::as_str))
                        .map(|s| format!(" (did you mean '{s}'?)"))
                        .unwrap_or_default();
                    self.diagnostics.push(
                        Diagnostic::error(
                            Some(loc.clone()),
                            format!(
                                "Inheritance requested, but category '{base}' does not exist{hint}"
                            ),
                        )
                        .with_object("section", &name),
                    );
                }
            }
        }
        self.push_section(
            name,
            loc,
            template,
            bases,
            (variables, line_digests),
            invalid,
        );
    }

    fn push_section(
        &mut self,
        name: String,
        location: Location,
        is_template: bool,
        bases: Vec<String>,
        (variables, line_digests): (Vec<Arc<Variable>>, Vec<LineDigest>),
        invalid: bool,
    ) {
        let idx = self.doc.sections.len();
        self.by_name.entry(name.clone()).or_default().push(idx);
        self.doc.sections.push(Section {
            name,
            location,
            is_template,
            bases,
            variables,
            invalid,
            line_digests,
        });
        self.current = Current::Section(idx);
    }

    fn on_variable(&mut self, name: String, op: lexer::Op, value: String, loc: Location) {
        let Current::Section(idx) = self.current else {
            self.diagnostics.push(Diagnostic::error(
                Some(loc),
                format!("'{name}' is outside any [section] (No category context)"),
            ));
            return;
        };
        let section = &mut self.doc.sections[idx];
        if op == lexer::Op::Append
            && let Some(i) = section.variables.iter().rposition(|v| v.name == name)
        {
            // Copy on write: the variable may be shared with a template.
            let var = Arc::make_mut(&mut section.variables[i]);
            var.value.push_str(&value);
            let trimmed = var.value.trim_end().len();
            var.value.truncate(trimmed);
            let digest = LineDigest::of(&var.name, &var.value);
            if let Some(d) = section.line_digests.get_mut(i) {
                *d = digest;
            }
            return;
        }
        section.line_digests.push(LineDigest::of(&name, &value));
        section.variables.push(Arc::new(Variable {
            name,
            value,
            location: loc,
        }));
    }

    fn on_directive(&mut self, d: Directive, loc: &Location) -> Result<(), Box<Diagnostic>> {
        match d {
            Directive::Include { target, optional } => {
                let raw = Path::new(&target);
                let pattern = if raw.is_absolute() {
                    raw.to_path_buf()
                } else {
                    self.base_dir.join(raw)
                };
                let files = self.fs.glob(&pattern).map_err(|e| {
                    Box::new(Diagnostic::error(
                        Some(loc.clone()),
                        format!("bad #include pattern '{target}': {e}"),
                    ))
                })?;
                if files.is_empty() {
                    if optional {
                        return Ok(());
                    }
                    return Err(Box::new(Diagnostic::error(
                        Some(loc.clone()),
                        format!(
                            "The file '{target}' was listed as a #include but it does not exist."
                        ),
                    )));
                }
                for f in files {
                    self.read(&f, Some(loc), optional)?;
                }
                Ok(())
            }
            Directive::Exec(cmd) => {
                self.diagnostics.push(Diagnostic::warning(
                    Some(loc.clone()),
                    format!("#exec is not supported (would run '{cmd}'); line ignored"),
                ));
                Ok(())
            }
            Directive::Unknown(word) => {
                self.line_error(loc.clone(), format!("unknown directive '#{word}'"));
                Ok(())
            }
        }
    }
}

fn open_error(path: &Path, from: Option<&Location>, e: &std::io::Error) -> Diagnostic {
    let what = if from.is_some() {
        "included file"
    } else {
        "config file"
    };
    Diagnostic::error(
        from.cloned(),
        format!("cannot read {what} '{}': {e}", path.display()),
    )
}

/// The candidate closest to `word` by edit distance, when close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= limit || (c.starts_with(word) && word.len() >= 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars, bounded to short words (option names).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
