# Builds both binaries; compose runs `mediadocs-api` and `mediadocs-worker` from one image.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins \
 && mkdir /out && cp target/release/mediadocs-api target/release/mediadocs-worker target/release/mediadocs /out/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 mediadocs
COPY --from=build /out/ /usr/local/bin/
USER mediadocs
ENV LOG_FORMAT=json API_ADDR=0.0.0.0:8080
EXPOSE 8080
CMD ["mediadocs-api"]
