//! Reads one float32 array from a `.npz` (numpy's `savez_compressed`: a zip of `.npy` files,
//! deflated). candle's `read_npz` cannot: its zip dependency is built without deflate.

use std::io::Read;

/// A row-major f32 array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The array stored as `<name>.npy` in the archive bytes.
pub fn read_array(zip: &[u8], name: &str) -> Result<Array, String> {
    let entry = format!("{name}.npy");
    let npy = zip_entry(zip, &entry)?.ok_or_else(|| format!("has no {entry}"))?;
    parse_npy(&npy).map_err(|e| format!("{entry}: {e}"))
}

fn u16_at(b: &[u8], at: usize) -> Result<usize, String> {
    b.get(at..at + 2)
        .map(|s| usize::from(u16::from_le_bytes([s[0], s[1]])))
        .ok_or("truncated zip".into())
}

fn u32_at(b: &[u8], at: usize) -> Result<usize, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
        .ok_or("truncated zip".into())
}

/// Finds an entry through the central directory (sizes in local headers may be deferred).
fn zip_entry(b: &[u8], wanted: &str) -> Result<Option<Vec<u8>>, String> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    let eocd = (0..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..].starts_with(&EOCD))
        .ok_or("not a zip file")?;
    let count = u16_at(b, eocd + 10)?;
    let mut at = u32_at(b, eocd + 16)?;
    for _ in 0..count {
        if u32_at(b, at)? != 0x0201_4b50 {
            return Err("corrupt zip central directory".into());
        }
        let method = u16_at(b, at + 10)?;
        let compressed = u32_at(b, at + 20)?;
        let size = u32_at(b, at + 24)?;
        let (name_len, extra_len, comment_len) = (
            u16_at(b, at + 28)?,
            u16_at(b, at + 30)?,
            u16_at(b, at + 32)?,
        );
        let local = u32_at(b, at + 42)?;
        let name = b.get(at + 46..at + 46 + name_len).ok_or("truncated zip")?;
        at += 46 + name_len + extra_len + comment_len;
        if name != wanted.as_bytes() {
            continue;
        }
        let data_at = local + 30 + u16_at(b, local + 26)? + u16_at(b, local + 28)?;
        let raw = b
            .get(data_at..data_at + compressed)
            .ok_or("truncated zip entry")?;
        let data = match method {
            0 => raw.to_vec(),
            8 => {
                let mut out = Vec::with_capacity(size);
                flate2::read::DeflateDecoder::new(raw)
                    .read_to_end(&mut out)
                    .map_err(|e| e.to_string())?;
                out
            }
            m => return Err(format!("zip compression method {m} is not supported")),
        };
        return Ok(Some(data));
    }
    Ok(None)
}

/// `.npy` v1–3 holding little-endian f32 in C order.
fn parse_npy(b: &[u8]) -> Result<Array, String> {
    if !b.starts_with(b"\x93NUMPY") || b.len() < 10 {
        return Err("not an .npy array".into());
    }
    let (header_len, start) = match b[6] {
        1 => (u16_at(b, 8)?, 10),
        2 | 3 => (u32_at(b, 8)?, 12),
        v => return Err(format!(".npy version {v} is not supported")),
    };
    let header = b
        .get(start..start + header_len)
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text")?;
    if !header.contains("'descr': '<f4'") {
        return Err(format!("only little-endian float32 is supported: {header}"));
    }
    if header.contains("'fortran_order': True") {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let shape = header
        .split_once("'shape': (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .ok_or("the .npy header has no shape")?
        .0
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension {s:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let body = &b[start + header_len..];
    let n: usize = shape.iter().product();
    if body.len() != n * 4 {
        return Err(format!("{} data bytes for shape {shape:?}", body.len()));
    }
    let data = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Array { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(shape: &str, values: &[f32]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({shape}), }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        values
            .iter()
            .for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
        b
    }

    #[test]
    fn parses_npy_headers_and_data() {
        let a = parse_npy(&npy("2, 3", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])).unwrap();
        assert_eq!(a.shape, [2, 3]);
        assert_eq!(a.data[5], 6.0);
        assert!(parse_npy(&npy("2, 2", &[1.0])).is_err());
    }

    #[test]
    fn reads_the_deflated_whisper_filters() {
        let path = crate::whisper::testutil::tiny_en_dir().join("mel_filters.npz");
        let zip = std::fs::read(path).unwrap();
        let a = read_array(&zip, "mel_80").unwrap();
        assert_eq!(a.shape, [80, 201]);
        assert_eq!(read_array(&zip, "mel_128").unwrap().shape, [128, 201]);
        // Slaney-normalised triangles: non-negative, each filter has some weight.
        assert!(a.data.iter().all(|&v| v >= 0.0));
        assert!(a.data.chunks(201).all(|row| row.iter().sum::<f32>() > 0.0));
        assert!(
            read_array(&zip, "mel_40")
                .unwrap_err()
                .contains("no mel_40.npy")
        );
    }
}
