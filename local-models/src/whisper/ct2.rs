//! Reader for CTranslate2's `model.bin`: the only Whisper weights the package registries ship.
//!
//! Layout (little endian; checked against the tiny.en and base files): u32 binary version,
//! u16-length string spec name, u32 spec revision, u32 variable count, then per variable a
//! u16-length name, u8 rank, rank × u32 dims, u8 dtype, u32 byte count and the raw bytes;
//! then a u32 alias count and (alias, target) string pairs. Strings carry a trailing NUL.

use std::collections::HashMap;

/// CTranslate2's `DataType` enum, as stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl Ct2Dtype {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub dims: Vec<usize>,
    pub dtype: Ct2Dtype,
    pub data: Vec<u8>,
}

impl Variable {
    /// Integer scalars hold settings such as `encoder/num_heads`.
    pub fn as_scalar_i64(&self) -> Option<i64> {
        if !self.dims.is_empty() {
            return None;
        }
        let d = &self.data;
        Some(match self.dtype {
            Ct2Dtype::I8 => i64::from(*d.first()? as i8),
            Ct2Dtype::I16 => i64::from(i16::from_le_bytes(d.get(..2)?.try_into().ok()?)),
            Ct2Dtype::I32 => i64::from(i32::from_le_bytes(d.get(..4)?.try_into().ok()?)),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Ct2Model {
    pub spec: String,
    pub revision: u32,
    pub variables: HashMap<String, Variable>,
    /// alias → target, e.g. `decoder/projection/weight` → `decoder/embeddings/weight` (tied).
    pub aliases: HashMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
#[error("at byte {offset}: {reason}")]
pub struct Ct2Error {
    pub offset: usize,
    pub reason: String,
}

/// Versions whose layout is the one above; older ones lack the alias table or use u8 lengths.
const SUPPORTED_VERSIONS: std::ops::RangeInclusive<u32> = 5..=6;

impl Ct2Model {
    pub fn parse(bytes: &[u8]) -> Result<Self, Ct2Error> {
        let mut r = Reader { bytes, pos: 0 };
        let version = r.u32()?;
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(r.error(format!("unsupported CTranslate2 binary version {version}")));
        }
        let spec = r.string()?;
        let revision = r.u32()?;
        let count = r.u32()? as usize;
        let mut variables = HashMap::with_capacity(count);
        for _ in 0..count {
            let (name, var) = r.variable()?;
            variables.insert(name, var);
        }
        let n_aliases = r.u32()? as usize;
        let mut aliases = HashMap::with_capacity(n_aliases);
        for _ in 0..n_aliases {
            let alias = r.string()?;
            let target = r.string()?;
            aliases.insert(alias, target);
        }
        if r.pos != bytes.len() {
            return Err(r.error(format!("{} trailing bytes", bytes.len() - r.pos)));
        }
        Ok(Self {
            spec,
            revision,
            variables,
            aliases,
        })
    }

    /// A variable by name, following the alias table.
    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.variables
            .get(name)
            .or_else(|| self.aliases.get(name).and_then(|t| self.variables.get(t)))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, reason: String) -> Ct2Error {
        Ct2Error {
            offset: self.pos,
            reason,
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], Ct2Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error(format!("truncated: wanted {n} more bytes")));
        };
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, Ct2Error> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Ct2Error> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Ct2Error> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<String, Ct2Error> {
        let n = self.u16()? as usize;
        let raw = self.take(n)?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec()).map_err(|_| self.error("a name is not UTF-8".into()))
    }

    fn variable(&mut self) -> Result<(String, Variable), Ct2Error> {
        let name = self.string()?;
        let rank = self.u8()? as usize;
        let dims = (0..rank)
            .map(|_| self.u32().map(|d| d as usize))
            .collect::<Result<Vec<_>, _>>()?;
        let code = self.u8()?;
        let dtype = Ct2Dtype::from_code(code)
            .ok_or_else(|| self.error(format!("{name}: unknown dtype code {code}")))?;
        let n_bytes = self.u32()? as usize;
        let expected = dims.iter().product::<usize>() * dtype.size();
        if n_bytes != expected {
            return Err(self.error(format!(
                "{name}: {n_bytes} bytes for dims {dims:?} of {dtype:?} (expected {expected})"
            )));
        }
        let data = self.take(n_bytes)?.to_vec();
        Ok((name, Variable { dims, dtype, data }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    /// A hand-built file: one f16 matrix, one i16 scalar and one alias.
    fn tiny_file() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        push_str(&mut b, "WhisperSpec");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        push_str(&mut b, "w");
        b.push(2);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&2u32.to_le_bytes());
        b.push(4);
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&[0x00, 0x3c, 0x00, 0xc0]); // f16 1.0, -2.0
        push_str(&mut b, "num_heads");
        b.push(0);
        b.push(2);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&6i16.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        push_str(&mut b, "tied");
        push_str(&mut b, "w");
        b
    }

    #[test]
    fn parses_a_hand_built_file() {
        let m = Ct2Model::parse(&tiny_file()).unwrap();
        assert_eq!((m.spec.as_str(), m.revision), ("WhisperSpec", 3));
        let w = m.get("tied").unwrap();
        assert_eq!((w.dims.clone(), w.dtype), (vec![1, 2], Ct2Dtype::F16));
        assert_eq!(m.get("num_heads").unwrap().as_scalar_i64(), Some(6));
    }

    #[test]
    fn truncation_and_trailing_bytes_are_errors() {
        let f = tiny_file();
        let err = Ct2Model::parse(&f[..f.len() - 3]).unwrap_err();
        assert!(err.reason.contains("truncated"), "{err}");
        let mut longer = f.clone();
        longer.push(1);
        assert!(
            Ct2Model::parse(&longer)
                .unwrap_err()
                .reason
                .contains("trailing")
        );
    }

    #[test]
    fn a_wrong_byte_count_is_an_error() {
        let mut f = tiny_file();
        // The byte count of "w" sits after version, spec, revision, count, name, rank, dims, dtype.
        let at = 4 + 2 + 12 + 4 + 4 + 2 + 2 + 1 + 8 + 1;
        f[at] = 6;
        assert!(
            Ct2Model::parse(&f)
                .unwrap_err()
                .reason
                .contains("expected 4")
        );
    }
}
