# The podgate image (used by deploy/kubernetes): a release build on a distroless base, running
# as a non-root user. Build: docker build -t podgate:0.1.0 .
FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin podgate

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/podgate /usr/local/bin/podgate
USER 65532:65532
EXPOSE 8001 9090
ENTRYPOINT ["/usr/local/bin/podgate"]
CMD ["proxy", "--help"]
