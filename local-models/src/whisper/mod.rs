//! Speech to text: Whisper in candle from CTranslate2 weights (being written).
