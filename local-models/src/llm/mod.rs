//! Chat models: quantised GGUF in candle (being written).
