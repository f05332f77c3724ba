//! Loading `crt` certificates the way HAProxy does at parse time: a PEM holding the chain
//! and the key (in any order), else the key from the `<crt>.key` sidecar; a directory loads
//! every file in it (in name order, skipping `.key`, `.ocsp`, `.issuer`, `.sctl` sidecars).
//! Also extracts the DNS names a certificate covers, for SNI selection.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::{PemObject, SectionKind};

use super::super::ir::{Certificate, PrivateKey};
use super::super::source::io_error_text;

/// Resolves `crt` against `crt-base` like HAProxy (only relative paths).
pub fn with_base(path: &str, base: Option<&str>) -> PathBuf {
    match base {
        Some(b) if !path.starts_with('/') && !b.is_empty() => Path::new(b).join(path),
        _ => PathBuf::from(path),
    }
}

/// Loads a `crt` argument; the error is HAProxy's text after `'bind X' in section 'Y' : `.
pub fn load_crt(arg: &str, base: Option<&str>) -> Result<Vec<Certificate>, String> {
    let path = with_base(arg, base);
    let shown = path.display().to_string();
    let meta = std::fs::metadata(&path).map_err(|e| {
        format!(
            "unable to stat SSL certificate from file '{shown}' : {}.",
            io_error_text(&e)
        )
    })?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|e| {
                format!(
                    "unable to scan directory '{shown}' : {}.",
                    io_error_text(&e)
                )
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .filter(|p| {
                !matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("key" | "ocsp" | "issuer" | "sctl")
                )
            })
            .collect();
        entries.sort();
        let mut out = Vec::new();
        for e in entries {
            out.push(load_file(&e)?);
        }
        return Ok(out);
    }
    Ok(vec![load_file(&path)?])
}

fn load_file(path: &Path) -> Result<Certificate, String> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "unable to stat SSL certificate from file '{shown}' : {}.",
            io_error_text(&e)
        )
    })?;
    let mut chain = Vec::new();
    let mut key = None;
    for item in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(&bytes) {
        let Ok((kind, der)) = item else {
            return Err(format!("unable to load certificate from file '{shown}'."));
        };
        match kind {
            SectionKind::Certificate => chain.push(der),
            SectionKind::PrivateKey if key.is_none() => key = Some(PrivateKey::Pkcs8(der)),
            SectionKind::RsaPrivateKey if key.is_none() => key = Some(PrivateKey::Pkcs1(der)),
            SectionKind::EcPrivateKey if key.is_none() => key = Some(PrivateKey::Sec1(der)),
            _ => {}
        }
    }
    if chain.is_empty() {
        return Err(format!("unable to load certificate from file '{shown}'."));
    }
    let key = match key {
        Some(k) => k,
        None => {
            let sidecar = format!("{shown}.key");
            load_key(Path::new(&sidecar))
                .ok_or_else(|| format!("No Private Key found in '{sidecar}'."))?
        }
    };
    let names = dns_names(&chain[0]);
    Ok(Certificate {
        path: path.to_path_buf(),
        chain,
        key,
        names,
    })
}

fn load_key(path: &Path) -> Option<PrivateKey> {
    let bytes = std::fs::read(path).ok()?;
    for item in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(&bytes) {
        match item.ok()? {
            (SectionKind::PrivateKey, der) => return Some(PrivateKey::Pkcs8(der)),
            (SectionKind::RsaPrivateKey, der) => return Some(PrivateKey::Pkcs1(der)),
            (SectionKind::EcPrivateKey, der) => return Some(PrivateKey::Sec1(der)),
            _ => {}
        }
    }
    None
}

// --- a minimal DER reader: just enough to find subjectAltName dNSNames and the subject CN.

/// Reads one TLV at the start of `d`: (tag, content, rest).
fn tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *d.first()?;
    let first = *d.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *d.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    Some((tag, d.get(hdr..end)?, d.get(end..)?))
}

fn children(mut d: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((t, c, rest)) = tlv(d) {
        out.push((t, c));
        d = rest;
    }
    out
}

const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

/// DNS names of a leaf certificate for SNI: its SAN dNSNames and its subject CNs, as HAProxy
/// indexes both.
pub fn dns_names(der: &[u8]) -> Vec<String> {
    let Some((_, cert, _)) = tlv(der) else {
        return Vec::new();
    };
    let Some(&(_, tbs)) = children(cert).first() else {
        return Vec::new();
    };
    let fields = children(tbs);
    // tbsCertificate: [0] version?, serial, sigalg, issuer, validity, subject, spki, ... [3] extensions
    let skip = usize::from(fields.first().is_some_and(|f| f.0 == 0xa0));
    let subject = fields.get(skip + 4).map(|f| f.1);
    let mut names = Vec::new();
    if let Some(&(_, ext_wrapper)) = fields.iter().find(|f| f.0 == 0xa3) {
        if let Some(&(_, exts)) = children(ext_wrapper).first() {
            for (_, ext) in children(exts) {
                let parts = children(ext);
                if parts.first().map(|p| p.1) != Some(OID_SAN) {
                    continue;
                }
                if let Some(&(_, octets)) = parts.last() {
                    if let Some(&(_, seq)) = children(octets).first() {
                        for (tag, value) in children(seq) {
                            if tag == 0x82 {
                                names.push(String::from_utf8_lossy(value).to_ascii_lowercase());
                            }
                        }
                    }
                }
            }
        }
    }
    {
        if let Some(subject) = subject {
            for (_, set) in children(subject) {
                for (_, atv) in children(set) {
                    let parts = children(atv);
                    if parts.first().map(|p| p.1) == Some(OID_CN) {
                        if let Some(v) = parts.get(1) {
                            let cn = String::from_utf8_lossy(v.1).to_ascii_lowercase();
                            if !names.contains(&cn) {
                                names.push(cn);
                            }
                        }
                    }
                }
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_reader_rejects_garbage() {
        assert!(dns_names(&[]).is_empty());
        assert!(dns_names(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_empty());
        assert!(tlv(&[0x30, 0x05, 1]).is_none());
    }
}
