/* fuzz_conn.c -- libFuzzer target for a connection's whole read path: a
 * real gw_conn on one end of a socketpair, fed an HTTP request and then
 * WebSocket frames, the bytes cut into pieces at offsets the input chooses,
 * against a private redis-server that this process starts once.
 * Input: byte 0 picks the mode (even: a valid upgrade for session "fz" is
 * sent first and the rest are frames; odd: the rest is the raw request);
 * byte 1 seeds the cut points. */
#include "gw_conn.h"
#include "gw_mcp.h"
#include "gw_oauth.h"
#include "gw_router.h"
#include "gw_server.h"
#include "rconn.h"
#include "strmap.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct gw_server srv;
static struct rconn *admin;
static char sock_path[128], addr[160];
static pid_t redis_pid;
static unsigned long runs;

static const char upgrade[] = "GET /ws?session_id=fz HTTP/1.1\r\nHost: localhost\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";

static void stop_redis(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    unlink(sock_path);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop once, at most ms long. */
static void spin(int ms)
{
    struct timeval tv = {0, ms * 1000};
    struct event *t = evtimer_new(srv.base, tick_cb, NULL);
    evtimer_add(t, &tv);
    event_base_loop(srv.base, EVLOOP_ONCE);
    event_free(t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    snprintf(sock_path, sizeof(sock_path), "/tmp/aa-fuzz-conn-%d.sock", (int)getpid());
    snprintf(addr, sizeof(addr), "unix:%s", sock_path);
    redis_pid = fork();
    if (redis_pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock_path, "--save",
               "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    atexit(stop_redis);
    admin = rconn_new(addr);
    char err[256];
    for (int i = 0; rconn_connect(admin, err, sizeof(err)) < 0; i++) {
        if (i > 500) {
            fprintf(stderr, "fuzz_conn: no redis-server: %s\n", err);
            exit(1);
        }
        usleep(10000);
    }
    srv.base = event_base_new();
    srv.sessions = strmap_new();
    srv.cfg = (struct gw_config){.bind = "127.0.0.1",
                                 .redis = addr,
                                 .agent_stream = "aa:stream:agent",
                                 .node = "fuzz",
                                 .max_message = 65536,
                                 .max_output = 1 << 20,
                                 .max_prompt = 32768,
                                 .max_callback = 65536,
                                 .idle_ms = 600000,
                                 .ping_ms = 600000,
                                 .header_timeout_ms = 10000,
                                 .turn_timeout_ms = 60000,
                                 .node_ttl_ms = 30000,
                                 .rate_per_s = 100000,
                                 .rate_burst = 100000,
                                 .mcp_session_trust_ms = 5000,
                                 .token_secret = "",
                                 .issuer = "agent-async",
                                 .dev_mode = 1,
                                 .loopback_bind = 1};
    gw_router_start(&srv);
    srv.mcp = gw_mcp_new();
    srv.oauth = gw_oauth_new("", err, sizeof(err));
    srv.cells_known = 1; /* one cell, as a fresh Redis has */
    srv.cmd = rasync_new(srv.base, addr, "cmd", NULL, NULL);
    srv.sub = rasync_new(srv.base, addr, "sub", NULL, NULL);
    for (int i = 0; !rasync_connected(srv.cmd) && i < 1000; i++)
        spin(5);
    return 0;
}

static void drain(int fd)
{
    char buf[65536];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    evutil_make_socket_nonblocking(sv[0]);
    if (!gw_conns_accept(srv.conns, sv[0], (struct sockaddr *)&peer, sizeof(peer))) {
        close(sv[1]);
        return 0;
    }
    int ws = !(data[0] & 1);
    uint32_t seed = data[1] * 2654435761u + 1;
    data += 2;
    size -= 2;
    if (ws) {
        if (write(sv[1], upgrade, sizeof(upgrade) - 1) < 0)
            goto done;
        for (int i = 0; i < 20 && !gw_conns_open(srv.conns) && gw_conns_count(srv.conns); i++)
            spin(2); /* the registration's round trip to Redis */
    }
    for (size_t off = 0; off < size && gw_conns_count(srv.conns);) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 700;
        if (n > size - off)
            n = size - off;
        ssize_t w = write(sv[1], data + off, n);
        if (w <= 0)
            break;
        off += (size_t)w;
        spin(0);
        drain(sv[1]);
    }
    for (int i = 0; i < 10 && gw_conns_count(srv.conns); i++) {
        spin(0);
        drain(sv[1]);
    }
done:
    close(sv[1]);
    for (int i = 0; i < 2000 && gw_conns_count(srv.conns); i++)
        spin(i < 1000 ? 0 : 1);
    for (int i = 0; i < 5; i++)
        spin(0); /* replies to what the connection sent */
    if (++runs % 2000 == 0) {
        redisReply *r = rconn_cmd(admin, "FLUSHALL");
        if (r)
            freeReplyObject(r);
    }
    return 0;
}
