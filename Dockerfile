# mqtthil: one static binary on a minimal image, run as an unprivileged user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN sh .ci/build-static /out/mqtthil

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /opt/mqtthil --shell /usr/sbin/nologin mqtthil
COPY --from=build /out/mqtthil /usr/local/bin/mqtthil
COPY features /opt/mqtthil/features
COPY fixtures /opt/mqtthil/fixtures
WORKDIR /opt/mqtthil
USER mqtthil
ENTRYPOINT ["mqtthil"]
CMD ["help"]
