use super::*;

/// A WAV file with the given format fields, extra chunks before `data`, and data bytes.
fn wav(
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    extra: &[(&[u8; 4], &[u8])],
    data: &[u8],
) -> Vec<u8> {
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(bits / 8)).to_le_bytes());
    fmt.extend_from_slice(&(bits / 8).to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    let mut body = b"WAVE".to_vec();
    let mut chunk = |id: &[u8; 4], content: &[u8]| {
        body.extend_from_slice(id);
        body.extend_from_slice(&(content.len() as u32).to_le_bytes());
        body.extend_from_slice(content);
        if content.len() % 2 == 1 {
            body.push(0);
        }
    };
    chunk(b"fmt ", &fmt);
    for (id, content) in extra {
        chunk(id, content);
    }
    chunk(b"data", data);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn pcm16(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[test]
fn pcm16_wav_is_encoded_to_ulaw_and_framed() {
    let samples: Vec<i16> = (0..400)
        .map(|i| if i % 2 == 0 { 1000 } else { -1000 })
        .collect();
    let s = Sound::from_wav(&wav(1, 1, 8000, 16, &[], &pcm16(&samples))).expect("valid");
    assert_eq!(s.law(), Law::Ulaw);
    assert_eq!(s.len(), 400);
    assert_eq!(s.frame_count(), 3);
    assert_eq!(s.duration_ms(), 50);
    let mut f = [0u8; FRAME_SAMPLES];
    assert!(s.frame(0, Law::Ulaw, &mut f));
    assert_eq!(f[0], g711::linear_to_ulaw(1000));
    assert_eq!(f[1], g711::linear_to_ulaw(-1000));
    // The last frame is padded with silence in the requested law.
    assert!(s.frame(2, Law::Alaw, &mut f));
    assert_eq!(
        f[0],
        g711::ULAW_TO_ALAW[usize::from(g711::linear_to_ulaw(1000))]
    );
    assert_eq!(f[80], g711::ALAW_SILENCE);
    assert_eq!(f[159], g711::ALAW_SILENCE);
    assert!(!s.frame(3, Law::Ulaw, &mut f));
    assert!(!s.frame(usize::MAX, Law::Ulaw, &mut f));
}

#[test]
fn g711_wavs_extra_chunks_odd_padding_and_extensible() {
    let data = [0x11u8; 161];
    let s = Sound::from_wav(&wav(6, 1, 8000, 8, &[(b"LIST", b"abc")], &data)).expect("A-law");
    assert_eq!((s.law(), s.len()), (Law::Alaw, 161));
    let s = Sound::from_wav(&wav(7, 1, 8000, 8, &[], &data)).expect("µ-law");
    assert_eq!((s.law(), s.len()), (Law::Ulaw, 161));
    // WAVE_FORMAT_EXTENSIBLE with an A-law sub-format: the fmt chunk is 40 bytes.
    let mut ext = wav(0xfffe, 1, 8000, 8, &[], &data);
    let mut fmt = ext[20..36].to_vec();
    fmt.extend_from_slice(&22u16.to_le_bytes());
    fmt.extend_from_slice(&[8, 0, 0, 0, 0, 0]);
    fmt.extend_from_slice(&6u16.to_le_bytes());
    fmt.extend_from_slice(&[0; 14]);
    let data_chunk = ext.split_off(36);
    let mut file = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    file.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    file.extend_from_slice(&fmt);
    file.extend_from_slice(&data_chunk);
    let s = Sound::from_wav(&file).expect("extensible");
    assert_eq!(s.law(), Law::Alaw);
}

#[test]
fn data_size_past_the_end_is_truncated() {
    let mut file = wav(7, 1, 8000, 8, &[], &[0x22; 100]);
    let at = file.len() - 100 - 4;
    file[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(Sound::from_wav(&file).expect("streamed").len(), 100);
}

#[test]
fn bad_wavs_are_errors() {
    assert!(matches!(Sound::from_wav(b""), Err(SoundError::BadWav(_))));
    assert!(matches!(
        Sound::from_wav(b"RIFF\0\0\0\0WAVX"),
        Err(SoundError::BadWav(_))
    ));
    assert!(matches!(
        Sound::from_wav(&wav(1, 2, 8000, 16, &[], &[0; 8])),
        Err(SoundError::Unsupported(_))
    ));
    assert!(matches!(
        Sound::from_wav(&wav(1, 1, 16000, 16, &[], &[0; 8])),
        Err(SoundError::Unsupported(_))
    ));
    assert!(matches!(
        Sound::from_wav(&wav(1, 1, 8000, 8, &[], &[0; 8])),
        Err(SoundError::Unsupported(_))
    ));
    assert!(matches!(
        Sound::from_wav(&wav(0x55, 1, 8000, 16, &[], &[0; 8])),
        Err(SoundError::Unsupported(_))
    ));
    assert_eq!(
        Sound::from_wav(&wav(7, 1, 8000, 8, &[], &[])),
        Err(SoundError::Empty)
    );
    // Cut inside the fmt chunk; no data chunk; data before fmt.
    let full = wav(7, 1, 8000, 8, &[], &[1; 4]);
    assert!(matches!(
        Sound::from_wav(&full[..30]),
        Err(SoundError::BadWav(_))
    ));
    assert!(matches!(
        Sound::from_wav(&full[..36]),
        Err(SoundError::BadWav(_))
    ));
    let mut swapped = b"RIFF\0\0\0\0WAVEdata\x04\0\0\0abcd".to_vec();
    swapped.extend_from_slice(&full[12..36]);
    assert!(matches!(
        Sound::from_wav(&swapped),
        Err(SoundError::BadWav(_))
    ));
}

#[test]
fn raw_formats_by_extension() {
    let s = Sound::from_file_bytes("ulaw", &[1, 2, 3]).expect("ulaw");
    assert_eq!((s.law(), s.len()), (Law::Ulaw, 3));
    let s = Sound::from_file_bytes("ALAW", &[1, 2]).expect("alaw");
    assert_eq!(s.law(), Law::Alaw);
    let s = Sound::from_file_bytes("sln", &pcm16(&[0, 1000, -1000])).expect("sln");
    let mut f = [0u8; FRAME_SAMPLES];
    assert!(s.frame(0, Law::Ulaw, &mut f));
    assert_eq!(
        &f[..3],
        &[
            0xff,
            g711::linear_to_ulaw(1000),
            g711::linear_to_ulaw(-1000)
        ]
    );
    assert!(matches!(
        Sound::from_file_bytes("gsm", &[1]),
        Err(SoundError::UnknownType(_))
    ));
    assert_eq!(Sound::from_file_bytes("pcm", &[1]), Err(SoundError::Empty));
    assert!(Sound::from_file_bytes("wav", b"junk").is_err());
}
