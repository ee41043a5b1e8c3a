//! The bundled Rust example: a CRC-16 over frames, with tests that use
//! threads and a fixture file, run for aarch64 through xrun as Cargo's runner.

/// CRC-16/CCITT-FALSE.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &byte in data {
        crc ^= (byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(crc16(b"123456789"), 0x29b1);
    }

    #[test]
    fn fixture_frame() {
        let frame = std::fs::read("tests/data/frame.bin").unwrap();
        assert_eq!(crc16(&frame), crc16(b"checksum fixture\n"));
    }

    #[test]
    fn parallel_frames_agree() {
        let handles: Vec<_> = (0..8).map(|i| std::thread::spawn(move || crc16(&[i as u8; 64]))).collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), crc16(&[i as u8; 64]));
        }
    }
}
