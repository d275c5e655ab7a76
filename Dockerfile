# Dockerfile -- one image for every agent-async program; the command picks
# the program (aa-gateway, aa-agent-worker, aa-tool-worker, aa-client, aa-ctl).
# Build stage: compile on Debian 12 with the -dev packages (no GTK: the
# desktop app, aa-desktop, is built on the desktop, not in the image).
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc make pkg-config libc6-dev libhiredis-dev \
      libevent-dev libwebsockets-dev libglib2.0-dev libcurl4-openssl-dev libjansson-dev \
      libwslay-dev libhttp-parser-dev libssl-dev libedit-dev check libsubunit-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
COPY lib lib
COPY lua lua
COPY gateway gateway
COPY worker worker
COPY ctl ctl
COPY client client
COPY tests/bench tests/bench
RUN make -j2 all

# Runtime stage: the programs, the Lua scripts (for reading; they are
# compiled in), the e2e scenarios, and only the runtime libraries.
FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libhiredis0.14 libevent-2.1-7 \
      libevent-openssl-2.1-7 libevent-pthreads-2.1-7 libjansson4 libcurl4 libwebsockets17 \
      libwebsockets-evlib-glib libglib2.0-0 libwslay1 libhttp-parser2.9 libssl3 libedit2 ca-certificates redis-tools \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /home/aa --create-home aa
COPY --from=build /src/build/bin/aa-gateway /src/build/bin/aa-agent-worker \
     /src/build/bin/aa-tool-worker /src/build/bin/aa-client /src/build/bin/aa-ctl /usr/local/bin/
COPY lua /usr/share/agent-async/lua
COPY tests/e2e /usr/share/agent-async/tests/e2e
COPY tests/conformance /usr/share/agent-async/tests/conformance
ENV AA_BIND=0.0.0.0 AA_PORT=8080 AA_REDIS=redis:6379 BINDIR=/usr/local/bin
USER aa
WORKDIR /home/aa
EXPOSE 8080
# The gateway answers /healthz; workers are healthy when Redis answers them.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["aa-ctl", "streams"]
CMD ["aa-gateway"]

# The e2e image: the runtime and the end-to-end scenarios' own peers
# (python3-websockets, curl). compose's e2e service builds this target.
FROM runtime AS e2e
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash python3 python3-websockets curl procps openssl \
 && rm -rf /var/lib/apt/lists/*
USER aa
CMD ["bash", "/usr/share/agent-async/tests/e2e/run.sh"]
