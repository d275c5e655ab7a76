/* desktop.c -- aa-desktop: the GTK 4 desktop app. A chat view whose answer
 * grows in place as it streams, the agent's progress with the time a tool
 * has waited, an activity panel of every action the agent asked for (who
 * asked, what ran, how long, the outcome; log collections can be opened),
 * an approval dialog before an action that changes the machine, the
 * connection state at all times, a notification when an answer comes while
 * the window is not focused, and a preferences dialog writing the same
 * configuration file as aa-client. libwebsockets runs on GLib's main loop
 * (cl_conn): one thread. It shares cl_conf, cl_conn, cl_act and cl_exec with
 * the terminal client and takes its options; --terminal (or no display)
 * runs aa-client instead. */
#include "cl_act.h"
#include "cl_conf.h"
#include "cl_conn.h"
#include "util.h"

#include <errno.h>
#include <glib-unix.h>
#include <gtk/gtk.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct row {
    GtkWidget *box, *title, *cmd, *status, *open;
    unsigned id;
};

static struct {
    GtkApplication *gapp;
    GtkWindow *win;
    GtkWidget *conn_label, *chat_box, *chat_scroll, *progress, *entry, *activity_box;
    GtkWidget *streaming; /* the answer growing in place */
    GString *stream_text;
    char progress_text[300];
    int64_t progress_since_us;
    guint progress_src, dump_src;
    struct row *rows;
    size_t nrows, caprows;
    GtkWindow *ask_win;
    struct cl_conn *conn;
    struct cl_act *act;
    char token[4200], session[160];
    int notifications, shots, connected_shot;
    const char *dump_path, *shot_dir;
} ui;

/* ---- what the window shows, for tests and screenshots ------------------- */

static void dump_widget(GtkWidget *w, json_t *out)
{
    if (!gtk_widget_get_visible(w))
        return;
    const char *name = gtk_widget_get_name(w);
    json_t *item = NULL;
    if (GTK_IS_LABEL(w))
        item = json_pack("{s:s, s:s, s:s}", "kind", "label", "name", name, "text",
                         gtk_label_get_text(GTK_LABEL(w)));
    else if (GTK_IS_BUTTON(w) && gtk_button_get_label(GTK_BUTTON(w)))
        item = json_pack("{s:s, s:s, s:s, s:b}", "kind", "button", "name", name, "label",
                         gtk_button_get_label(GTK_BUTTON(w)), "sensitive",
                         gtk_widget_get_sensitive(w));
    else if (GTK_IS_EDITABLE(w) && GTK_IS_ENTRY(w))
        item = json_pack("{s:s, s:s, s:s}", "kind", "entry", "name", name, "text",
                         gtk_editable_get_text(GTK_EDITABLE(w)));
    else if (GTK_IS_TEXT_VIEW(w)) {
        GtkTextBuffer *b = gtk_text_view_get_buffer(GTK_TEXT_VIEW(w));
        GtkTextIter s, e;
        gtk_text_buffer_get_bounds(b, &s, &e);
        char *t = gtk_text_buffer_get_text(b, &s, &e, FALSE);
        item = json_pack("{s:s, s:s, s:s}", "kind", "text", "name", name, "text", t);
        g_free(t);
    }
    if (item)
        json_array_append_new(out, item);
    if (GTK_IS_BUTTON(w))
        return; /* its label is the button's */
    for (GtkWidget *c = gtk_widget_get_first_child(w); c; c = gtk_widget_get_next_sibling(c))
        dump_widget(c, out);
}

/* Writes every visible window's labels, buttons and entries, read from the
 * widgets themselves, to --state-dump (atomically). */
static gboolean dump_now(gpointer p)
{
    (void)p;
    ui.dump_src = 0;
    json_t *wins = json_array();
    GList *tops = gtk_window_list_toplevels();
    for (GList *l = tops; l; l = l->next) {
        GtkWindow *w = l->data;
        if (!gtk_widget_get_visible(GTK_WIDGET(w)))
            continue;
        json_t *widgets = json_array();
        dump_widget(GTK_WIDGET(w), widgets);
        const char *title = gtk_window_get_title(w);
        json_array_append_new(wins,
                              json_pack("{s:s, s:b, s:o}", "title", title ? title : "", "active",
                                        gtk_window_is_active(w), "widgets", widgets));
    }
    g_list_free(tops);
    json_t *doc = json_pack("{s:o, s:i, s:i}", "windows", wins, "notifications", ui.notifications,
                            "screenshots", ui.shots);
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", ui.dump_path);
    if (json_dump_file(doc, tmp, JSON_INDENT(1)) == 0)
        rename(tmp, ui.dump_path);
    json_decref(doc);
    return G_SOURCE_REMOVE;
}

static void changed(void)
{
    if (ui.dump_path && !ui.dump_src)
        ui.dump_src = g_timeout_add(50, dump_now, NULL);
}

struct shot {
    GtkWindow *win;
    char tag[64];
    int tries; /* the window may not be mapped yet on a slow machine */
};

static gboolean shot_now(gpointer p)
{
    struct shot *s = p;
    GtkWidget *w = GTK_WIDGET(s->win);
    int width = gtk_widget_get_width(w), height = gtk_widget_get_height(w);
    GskRenderer *r = gtk_widget_get_mapped(w) ? gtk_native_get_renderer(GTK_NATIVE(w)) : NULL;
    GskRenderNode *node = NULL;
    if (r && width > 0 && height > 0) {
        GdkPaintable *paint = gtk_widget_paintable_new(w);
        GtkSnapshot *snap = gtk_snapshot_new();
        gdk_paintable_snapshot(paint, snap, width, height);
        node = gtk_snapshot_free_to_node(snap);
        g_object_unref(paint);
    }
    if (node) {
        GdkTexture *t =
            gsk_renderer_render_texture(r, node, &GRAPHENE_RECT_INIT(0, 0, width, height));
        char path[1400];
        snprintf(path, sizeof(path), "%s/%02d-%s.png", ui.shot_dir, ++ui.shots, s->tag);
        gdk_texture_save_to_png(t, path);
        g_object_unref(t);
        gsk_render_node_unref(node);
        changed();
    } else if (++s->tries < 25) {
        return G_SOURCE_CONTINUE; /* not mapped or not drawn yet: again in 400 ms */
    }
    g_object_unref(s->win);
    free(s);
    return G_SOURCE_REMOVE;
}

/* Saves the window as it looks once laid out (--screenshot-dir). */
static void screenshot(GtkWindow *win, const char *tag)
{
    if (!ui.shot_dir || !win)
        return;
    struct shot *s = xcalloc(1, sizeof(*s));
    s->win = g_object_ref(win);
    strlcpy_aa(s->tag, tag, sizeof(s->tag));
    g_timeout_add(400, shot_now, s);
}

/* ---- chat ---------------------------------------------------------------- */

static gboolean scroll_down(gpointer p)
{
    (void)p;
    GtkAdjustment *a = gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(ui.chat_scroll));
    gtk_adjustment_set_value(a, gtk_adjustment_get_upper(a));
    return G_SOURCE_REMOVE;
}

/* A wrapped, selectable, left-aligned label named name (for the state
 * dump), with CSS class css. */
static GtkWidget *small_label(const char *name, const char *css)
{
    GtkWidget *l = gtk_label_new("");
    gtk_widget_set_name(l, name);
    if (css)
        gtk_widget_add_css_class(l, css);
    gtk_label_set_xalign(GTK_LABEL(l), 0);
    gtk_label_set_wrap(GTK_LABEL(l), TRUE);
    gtk_label_set_wrap_mode(GTK_LABEL(l), PANGO_WRAP_WORD_CHAR);
    gtk_label_set_selectable(GTK_LABEL(l), TRUE);
    return l;
}

/* A line in the chat: who is "you", "agent", "error" or "info". */
static GtkWidget *chat_add(const char *who, const char *text)
{
    char name[32];
    snprintf(name, sizeof(name), "chat-%s", who);
    GtkWidget *l = small_label(name, "bubble");
    gtk_label_set_text(GTK_LABEL(l), text);
    gtk_widget_add_css_class(l, who);
    gtk_widget_set_halign(l, !strcmp(who, "you") ? GTK_ALIGN_END : GTK_ALIGN_START);
    gtk_box_append(GTK_BOX(ui.chat_box), l);
    g_timeout_add(30, scroll_down, NULL);
    changed();
    return l;
}

static gboolean progress_tick(gpointer p)
{
    (void)p;
    char t[400];
    long secs = (long)((mono_us() - ui.progress_since_us) / 1000000);
    snprintf(t, sizeof(t), "%s (%ld s)", ui.progress_text, secs);
    gtk_label_set_text(GTK_LABEL(ui.progress), t);
    changed();
    return G_SOURCE_CONTINUE;
}

static void progress_set(const char *text)
{
    if (ui.progress_src) {
        g_source_remove(ui.progress_src);
        ui.progress_src = 0;
    }
    if (!text) {
        gtk_widget_set_visible(ui.progress, FALSE);
        changed();
        return;
    }
    strlcpy_aa(ui.progress_text, text, sizeof(ui.progress_text));
    ui.progress_since_us = mono_us();
    gtk_widget_set_visible(ui.progress, TRUE);
    progress_tick(NULL);
    ui.progress_src = g_timeout_add(1000, progress_tick, NULL);
}

static void notify_answer(const char *text)
{
    if (gtk_window_is_active(ui.win))
        return;
    ui.notifications++;
    if (g_application_get_dbus_connection(G_APPLICATION(ui.gapp))) {
        GNotification *n = g_notification_new("agent-async: the agent answered");
        g_notification_set_body(n, text);
        g_application_send_notification(G_APPLICATION(ui.gapp), "answer", n);
        g_object_unref(n);
    }
    gtk_window_set_title(ui.win, "agent-async (new answer)");
    changed();
}

static void send_chat(GtkEntry *entry, gpointer p)
{
    (void)p;
    const char *text = gtk_editable_get_text(GTK_EDITABLE(entry));
    if (!text[0])
        return;
    json_t *m =
        json_pack("{s:s, s:s, s:s}", "action", "chat", "prompt", text, "session_id", ui.session);
    if (!m)
        return;
    chat_add("you", text);
    cl_conn_send_json(ui.conn, m);
    gtk_editable_set_text(GTK_EDITABLE(entry), "");
}

static void on_focus(GObject *o, GParamSpec *ps, gpointer p)
{
    (void)o;
    (void)ps;
    (void)p;
    if (gtk_window_is_active(ui.win))
        gtk_window_set_title(ui.win, "agent-async");
    changed();
}

/* ---- activity panel ------------------------------------------------------ */

static struct row *row_of(unsigned id)
{
    for (size_t i = 0; i < ui.nrows; i++)
        if (ui.rows[i].id == id)
            return &ui.rows[i];
    return NULL;
}

static void open_output(GtkButton *b, gpointer p)
{
    (void)b;
    const struct cl_activity *a = cl_act_get(ui.act, GPOINTER_TO_UINT(p));
    if (!a || !a->output)
        return;
    GtkWidget *w = gtk_window_new();
    char title[160];
    snprintf(title, sizeof(title), "%s: %zu bytes", a->title, a->bytes);
    gtk_window_set_title(GTK_WINDOW(w), title);
    gtk_window_set_transient_for(GTK_WINDOW(w), ui.win);
    gtk_window_set_default_size(GTK_WINDOW(w), 720, 480);
    GtkWidget *sw = gtk_scrolled_window_new();
    GtkWidget *tv = gtk_text_view_new();
    gtk_widget_set_name(tv, "log-output");
    gtk_text_view_set_editable(GTK_TEXT_VIEW(tv), FALSE);
    gtk_text_view_set_monospace(GTK_TEXT_VIEW(tv), TRUE);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(tv)), a->output, -1);
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(sw), tv);
    gtk_window_set_child(GTK_WINDOW(w), sw);
    gtk_window_present(GTK_WINDOW(w));
    changed();
}

static void act_changed(const struct cl_activity *a, void *arg)
{
    (void)arg;
    struct row *r = row_of(a->id);
    if (!r) {
        if (ui.nrows == ui.caprows) {
            ui.caprows = ui.caprows ? ui.caprows * 2 : 16;
            ui.rows = xrealloc(ui.rows, ui.caprows * sizeof(*ui.rows));
        }
        r = &ui.rows[ui.nrows++];
        memset(r, 0, sizeof(*r));
        r->id = a->id;
        r->box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
        gtk_widget_add_css_class(r->box, "activity");
        r->title = small_label("activity-title", "heading");
        r->cmd = small_label("activity-cmd", "monospace");
        r->status = small_label("activity-status", NULL);
        r->open = gtk_button_new_with_mnemonic("_Open the collected output");
        gtk_widget_set_name(r->open, "activity-open");
        gtk_widget_set_halign(r->open, GTK_ALIGN_START);
        gtk_widget_set_visible(r->open, FALSE);
        g_signal_connect(r->open, "clicked", G_CALLBACK(open_output), GUINT_TO_POINTER(a->id));
        gtk_box_append(GTK_BOX(r->box), r->title);
        gtk_box_append(GTK_BOX(r->box), r->cmd);
        gtk_box_append(GTK_BOX(r->box), r->status);
        gtk_box_append(GTK_BOX(r->box), r->open);
        gtk_box_prepend(GTK_BOX(ui.activity_box), r->box); /* newest first */
    }
    char t[300], s[800];
    snprintf(t, sizeof(t), "%s, asked by %s", a->title, a->requested_by);
    gtk_label_set_text(GTK_LABEL(r->title), t);
    gtk_label_set_text(GTK_LABEL(r->cmd), a->cmd[0] ? a->cmd : "(no command configured)");
    gtk_widget_remove_css_class(r->status, "failed");
    gtk_widget_remove_css_class(r->status, "ok");
    switch (a->phase) {
    case CL_ACT_ASKING:
        snprintf(s, sizeof(s), "waiting for your approval");
        break;
    case CL_ACT_RUNNING:
        snprintf(s, sizeof(s), "running");
        break;
    case CL_ACT_DONE:
        snprintf(s, sizeof(s), "%s (%.1f s)", a->outcome, (double)a->elapsed_ms / 1000);
        gtk_widget_add_css_class(r->status, a->ok ? "ok" : "failed");
        /* and one line on stderr, for the logs */
        fprintf(stderr, "event=action action=%s by=\"%s\" ok=%d elapsed_ms=%lld outcome=\"%s\"\n",
                a->action, a->requested_by, a->ok, (long long)a->elapsed_ms, a->outcome);
        break;
    }
    gtk_label_set_text(GTK_LABEL(r->status), s);
    gtk_widget_set_visible(r->open, a->phase == CL_ACT_DONE && a->output && a->output[0] &&
                                        !strncmp(a->action, "logs_", 5));
    changed();
}

/* ---- approval ------------------------------------------------------------ */

static void decided(GtkButton *b, gpointer p)
{
    (void)b;
    enum cl_act_decision d = (enum cl_act_decision)GPOINTER_TO_INT(p);
    GtkWindow *w = ui.ask_win;
    ui.ask_win = NULL;
    gtk_window_destroy(w);
    cl_act_decide(ui.act, cl_act_asking(ui.act), d); /* the next question comes from it */
    changed();
}

static GtkWidget *ask_button(const char *mnemonic, const char *name, enum cl_act_decision d)
{
    GtkWidget *b = gtk_button_new_with_mnemonic(mnemonic);
    gtk_widget_set_name(b, name);
    g_signal_connect(b, "clicked", G_CALLBACK(decided), GINT_TO_POINTER(d));
    return b;
}

/* One question at a time (cl_act): a dialog for a. */
static void act_ask(const struct cl_activity *a, void *arg)
{
    (void)arg;
    GtkWidget *w = gtk_window_new();
    ui.ask_win = GTK_WINDOW(w);
    gtk_window_set_title(GTK_WINDOW(w), "Allow this action?");
    gtk_window_set_transient_for(GTK_WINDOW(w), ui.win);
    gtk_window_set_modal(GTK_WINDOW(w), TRUE);
    gtk_window_set_deletable(GTK_WINDOW(w), FALSE);
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 10);
    gtk_widget_add_css_class(box, "dialog-body");
    char text[300];
    snprintf(text, sizeof(text), "%s wants to %s on this computer by running:", a->requested_by,
             a->title);
    GtkWidget *l = small_label("ask-text", NULL);
    gtk_label_set_selectable(GTK_LABEL(l), FALSE);
    gtk_label_set_text(GTK_LABEL(l), text);
    GtkWidget *cmd = small_label("ask-cmd", "monospace");
    gtk_label_set_text(GTK_LABEL(cmd), a->cmd);
    GtkWidget *buttons = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
    gtk_widget_set_halign(buttons, GTK_ALIGN_END);
    GtkWidget *deny = ask_button("_Deny", "ask-deny", CL_ACT_DENY);
    GtkWidget *always = ask_button("A_lways allow", "ask-always", CL_ACT_ALLOW_ALWAYS);
    GtkWidget *once = ask_button("_Allow once", "ask-once", CL_ACT_ALLOW_ONCE);
    gtk_box_append(GTK_BOX(buttons), deny);
    gtk_box_append(GTK_BOX(buttons), always);
    gtk_box_append(GTK_BOX(buttons), once);
    gtk_box_append(GTK_BOX(box), l);
    gtk_box_append(GTK_BOX(box), cmd);
    gtk_box_append(GTK_BOX(box), buttons);
    gtk_window_set_child(GTK_WINDOW(w), box);
    gtk_window_present(GTK_WINDOW(w));
    gtk_widget_grab_focus(deny); /* Enter alone never allows */
    screenshot(GTK_WINDOW(w), "approval");
    changed();
}

static void act_say(const char *level, const char *text, void *arg)
{
    (void)arg;
    chat_add(!strcmp(level, "error") ? "error" : "info", text);
}

static const struct cl_act_ui desktop_ui = {act_changed, act_ask, act_say};

/* ---- the gateway --------------------------------------------------------- */

static void on_event(json_t *msg, const char *raw, size_t len, int own, void *arg)
{
    (void)raw;
    (void)len;
    (void)arg;
    if (cl_act_handle(ui.act, msg, own))
        return;
    const char *event = json_string_value(json_object_get(msg, "event"));
    json_t *data = json_object_get(msg, "data");
    const char *text = json_string_value(json_object_get(data, "text"));
    if (!event)
        return;
    if (!strcmp(event, "chat_delta")) {
        if (!ui.streaming) {
            ui.streaming = chat_add("agent", "");
            g_string_truncate(ui.stream_text, 0);
        }
        g_string_append(ui.stream_text, text ? text : "");
        gtk_label_set_text(GTK_LABEL(ui.streaming), ui.stream_text->str);
        g_timeout_add(30, scroll_down, NULL);
        changed();
    } else if (!strcmp(event, "chat_response")) {
        if (ui.streaming)
            gtk_label_set_text(GTK_LABEL(ui.streaming), text ? text : ui.stream_text->str);
        else
            chat_add("agent", text ? text : "");
        ui.streaming = NULL;
        progress_set(NULL);
        notify_answer(text ? text : "");
        screenshot(ui.win, "answer");
    } else if (!strcmp(event, "progress")) {
        progress_set(text ? text : "working");
    } else if (!strcmp(event, "error")) {
        const char *code = json_string_value(json_object_get(data, "code"));
        const char *m = json_string_value(json_object_get(data, "message"));
        char t[1200];
        snprintf(t, sizeof(t), "%s (%s)", m ? m : "the gateway refused it", code ? code : "error");
        chat_add("error", t);
        ui.streaming = NULL;
        progress_set(NULL);
    }
}

static void on_state(enum cl_conn_state st, const char *detail, void *arg)
{
    (void)arg;
    char t[2600];
    gtk_widget_remove_css_class(ui.conn_label, "up");
    gtk_widget_remove_css_class(ui.conn_label, "down");
    switch (st) {
    case CL_CONN_CONNECTING:
        snprintf(t, sizeof(t), "Connecting to %s", detail);
        break;
    case CL_CONN_UP:
        snprintf(t, sizeof(t), "Connected, session %s%s", ui.session,
                 detail[0] ? " (resumed)" : "");
        gtk_widget_add_css_class(ui.conn_label, "up");
        if (!ui.connected_shot++)
            screenshot(ui.win, "connected");
        break;
    case CL_CONN_DOWN:
        snprintf(t, sizeof(t), "Not connected: %s", detail);
        gtk_widget_add_css_class(ui.conn_label, "down");
        break;
    case CL_CONN_CLOSED:
        snprintf(t, sizeof(t), "Closed");
        break;
    }
    gtk_label_set_text(GTK_LABEL(ui.conn_label), t);
    changed();
}

/* ---- preferences --------------------------------------------------------- */

static const char *const pref_names[] = {"url", "token-file", "session", "ca-file"};
static const char *const pref_titles[] = {"Server URL", "Token file", "Session", "CA file"};
static const char *const change_policies[] = {"ask", "allow", "deny", NULL};
static const char *const read_policies[] = {"allow", "ask", NULL};

struct prefs {
    GtkWidget *win, *entries[4], *changes, *reads, *msg;
};

static guint policy_index(const char *const *list, const char *v)
{
    for (guint i = 0; list[i]; i++)
        if (!strcmp(list[i], v))
            return i;
    return 0;
}

static void prefs_save(GtkButton *b, gpointer p)
{
    (void)b;
    struct prefs *pr = p;
    char err[1500];
    int restart = 0;
    for (int i = 0; i < 4; i++) {
        const char *v = gtk_editable_get_text(GTK_EDITABLE(pr->entries[i]));
        if (!strcmp(v, cl_conf_str(pref_names[i])))
            continue;
        if (cl_conf_set(pref_names[i], v, err, sizeof(err)) < 0) {
            gtk_label_set_text(GTK_LABEL(pr->msg), err);
            changed();
            return;
        }
        restart = 1;
    }
    const char *c = change_policies[gtk_drop_down_get_selected(GTK_DROP_DOWN(pr->changes))];
    const char *r = read_policies[gtk_drop_down_get_selected(GTK_DROP_DOWN(pr->reads))];
    if ((strcmp(c, cl_conf_str("approve-changes")) &&
         cl_conf_set("approve-changes", c, err, sizeof(err)) < 0) ||
        (strcmp(r, cl_conf_str("approve-reads")) &&
         cl_conf_set("approve-reads", r, err, sizeof(err)) < 0)) {
        gtk_label_set_text(GTK_LABEL(pr->msg), err);
        changed();
        return;
    }
    char m[1500];
    snprintf(m, sizeof(m), "Saved to %s.%s", cl_conf_path(),
             restart ? " Connection settings apply when aa-desktop starts again." : "");
    chat_add("info", m);
    gtk_window_destroy(GTK_WINDOW(pr->win));
}

static void prefs_closed(GtkWindow *w, gpointer p)
{
    (void)w;
    free(p);
    changed();
}

static void prefs_open(GtkButton *b, gpointer p)
{
    (void)b;
    (void)p;
    struct prefs *pr = xcalloc(1, sizeof(*pr));
    pr->win = gtk_window_new();
    gtk_window_set_title(GTK_WINDOW(pr->win), "Preferences");
    gtk_window_set_transient_for(GTK_WINDOW(pr->win), ui.win);
    gtk_window_set_modal(GTK_WINDOW(pr->win), TRUE);
    GtkWidget *grid = gtk_grid_new();
    gtk_widget_add_css_class(grid, "dialog-body");
    gtk_grid_set_row_spacing(GTK_GRID(grid), 6);
    gtk_grid_set_column_spacing(GTK_GRID(grid), 10);
    for (int i = 0; i < 4; i++) {
        GtkWidget *l = gtk_label_new(pref_titles[i]);
        gtk_label_set_xalign(GTK_LABEL(l), 1);
        pr->entries[i] = gtk_entry_new();
        gtk_widget_set_name(pr->entries[i], pref_names[i]);
        gtk_editable_set_text(GTK_EDITABLE(pr->entries[i]), cl_conf_str(pref_names[i]));
        gtk_widget_set_hexpand(pr->entries[i], TRUE);
        gtk_grid_attach(GTK_GRID(grid), l, 0, i, 1, 1);
        gtk_grid_attach(GTK_GRID(grid), pr->entries[i], 1, i, 1, 1);
    }
    pr->changes = gtk_drop_down_new_from_strings(change_policies);
    gtk_drop_down_set_selected(GTK_DROP_DOWN(pr->changes),
                               policy_index(change_policies, cl_conf_str("approve-changes")));
    pr->reads = gtk_drop_down_new_from_strings(read_policies);
    gtk_drop_down_set_selected(GTK_DROP_DOWN(pr->reads),
                               policy_index(read_policies, cl_conf_str("approve-reads")));
    gtk_grid_attach(GTK_GRID(grid), gtk_label_new("Actions that change the machine"), 0, 4, 1, 1);
    gtk_grid_attach(GTK_GRID(grid), pr->changes, 1, 4, 1, 1);
    gtk_grid_attach(GTK_GRID(grid), gtk_label_new("Reading actions"), 0, 5, 1, 1);
    gtk_grid_attach(GTK_GRID(grid), pr->reads, 1, 5, 1, 1);
    pr->msg = small_label("prefs-message", NULL);
    gtk_label_set_text(GTK_LABEL(pr->msg), cl_conf_path());
    gtk_grid_attach(GTK_GRID(grid), pr->msg, 0, 6, 2, 1);
    GtkWidget *save = gtk_button_new_with_mnemonic("_Save");
    gtk_widget_set_name(save, "prefs-save");
    g_signal_connect(save, "clicked", G_CALLBACK(prefs_save), pr);
    gtk_widget_set_halign(save, GTK_ALIGN_END);
    gtk_grid_attach(GTK_GRID(grid), save, 1, 7, 1, 1);
    gtk_window_set_child(GTK_WINDOW(pr->win), grid);
    g_signal_connect(pr->win, "destroy", G_CALLBACK(prefs_closed), pr);
    gtk_window_present(GTK_WINDOW(pr->win));
    changed();
}

/* ---- the window ---------------------------------------------------------- */

static const char css[] =
    ".bubble { padding: 6px 10px; margin: 3px 8px; border-radius: 8px; }\n"
    ".you { background: #dbeafe; }\n"
    ".agent { background: #f1f5f9; }\n"
    ".error { background: #fee2e2; color: #991b1b; }\n"
    ".info { color: #475569; font-style: italic; }\n"
    ".progress { color: #92400e; margin: 2px 10px; }\n"
    ".activity { padding: 6px; margin: 4px; border-bottom: 1px solid #e2e8f0; }\n"
    ".ok { color: #166534; }\n"
    ".failed { color: #991b1b; }\n"
    ".up { color: #166534; }\n"
    ".down { color: #991b1b; }\n"
    ".dialog-body { padding: 14px; }\n"
    ".connection { margin: 4px 10px; }\n";

static void activate(GtkApplication *gapp, gpointer p)
{
    (void)p;
    GtkCssProvider *prov = gtk_css_provider_new();
    gtk_css_provider_load_from_data(prov, css, -1);
    gtk_style_context_add_provider_for_display(gdk_display_get_default(), GTK_STYLE_PROVIDER(prov),
                                               GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    g_object_unref(prov);

    ui.win = GTK_WINDOW(gtk_application_window_new(gapp));
    gtk_window_set_title(ui.win, "agent-async");
    gtk_window_set_default_size(ui.win, 1000, 640);
    g_signal_connect(ui.win, "notify::is-active", G_CALLBACK(on_focus), NULL);
    GtkWidget *header = gtk_header_bar_new();
    GtkWidget *prefs = gtk_button_new_with_mnemonic("_Preferences");
    gtk_widget_set_name(prefs, "preferences");
    g_signal_connect(prefs, "clicked", G_CALLBACK(prefs_open), NULL);
    gtk_header_bar_pack_end(GTK_HEADER_BAR(header), prefs);
    gtk_window_set_titlebar(ui.win, header);

    GtkWidget *outer = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    ui.conn_label = small_label("connection", "connection");
    gtk_box_append(GTK_BOX(outer), ui.conn_label);
    GtkWidget *paned = gtk_paned_new(GTK_ORIENTATION_HORIZONTAL);
    gtk_widget_set_vexpand(paned, TRUE);

    GtkWidget *left = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);
    ui.chat_scroll = gtk_scrolled_window_new();
    gtk_widget_set_vexpand(ui.chat_scroll, TRUE);
    ui.chat_box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(ui.chat_scroll), ui.chat_box);
    ui.progress = small_label("progress", "progress");
    gtk_widget_set_visible(ui.progress, FALSE);
    ui.entry = gtk_entry_new();
    gtk_widget_set_name(ui.entry, "message");
    gtk_entry_set_placeholder_text(GTK_ENTRY(ui.entry), "Ask about your VPN, then press Enter");
    g_signal_connect(ui.entry, "activate", G_CALLBACK(send_chat), NULL);
    gtk_box_append(GTK_BOX(left), ui.chat_scroll);
    gtk_box_append(GTK_BOX(left), ui.progress);
    gtk_box_append(GTK_BOX(left), ui.entry);

    GtkWidget *right = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    GtkWidget *heading = gtk_label_new("Actions on this computer");
    gtk_widget_set_name(heading, "activity-heading");
    gtk_widget_add_css_class(heading, "heading");
    GtkWidget *asw = gtk_scrolled_window_new();
    gtk_widget_set_vexpand(asw, TRUE);
    ui.activity_box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
    gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(asw), ui.activity_box);
    gtk_box_append(GTK_BOX(right), heading);
    gtk_box_append(GTK_BOX(right), asw);

    gtk_paned_set_start_child(GTK_PANED(paned), left);
    gtk_paned_set_end_child(GTK_PANED(paned), right);
    gtk_paned_set_position(GTK_PANED(paned), 600);
    gtk_box_append(GTK_BOX(outer), paned);
    gtk_window_set_child(ui.win, outer);

    char banner[800];
    snprintf(banner, sizeof(banner), "Actions run %s. Settings: %s", cl_conf_profile(),
             cl_conf_path());
    chat_add("info", banner);
    gtk_window_present(ui.win);
    gtk_widget_grab_focus(ui.entry);

    char err[1500];
    struct cl_conn_opts co = {cl_conf_str("url"),
                              ui.token,
                              ui.session,
                              cl_conf_str("ca-file"),
                              (int)cl_conf_int("insecure"),
                              (int)cl_conf_int("heartbeat-ms")};
    ui.conn = cl_conn_new(&co, on_state, on_event, NULL, err, sizeof(err));
    if (!ui.conn) {
        chat_add("error", err);
        return;
    }
    ui.act = cl_act_new(ui.conn, &desktop_ui, NULL);
}

static gboolean on_signal(gpointer p)
{
    (void)p;
    g_application_quit(G_APPLICATION(ui.gapp));
    return G_SOURCE_CONTINUE;
}

/* aa-client beside this program, with the same arguments but --terminal. */
static int run_terminal(int argc, char **argv)
{
    char self[PATH_MAX], path[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        strlcpy_aa(self, argv[0], sizeof(self));
    else
        self[n] = '\0';
    snprintf(path, sizeof(path), "%s/aa-client", dirname(self));
    char **args = xcalloc((size_t)argc + 1, sizeof(*args));
    int k = 0;
    args[k++] = path;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--terminal") && strcmp(argv[i], "--terminal=true"))
            args[k++] = argv[i];
    execv(path, args);
    fprintf(stderr, "aa-desktop: cannot run %s: %s\n", path, strerror(errno));
    free(args);
    return 1;
}

int main(int argc, char **argv)
{
    static const char usage[] =
        "usage: aa-desktop [options]\n\nThe agent-async desktop app (GTK 4): chat with the agent, "
        "approve what it runs on this computer, follow every action. Takes aa-client's options "
        "and configuration file; --terminal, or no display, runs aa-client instead.";
    char err[1500];
    int rc = cl_conf_load(argc, argv, "aa-desktop", usage, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "%s\n", err);
        cl_conf_free();
        return rc < 0 ? 2 : 0;
    }
    if (cl_conf_int("terminal") || cl_conf_str("prompt")[0] || cl_conf_int("json")) {
        cl_conf_free();
        return run_terminal(argc, argv);
    }
    if (!gtk_init_check()) {
        fprintf(stderr, "aa-desktop: no display (DISPLAY / WAYLAND_DISPLAY); running the "
                        "terminal client\n");
        cl_conf_free();
        return run_terminal(argc, argv);
    }
    if (cl_conf_token(ui.token, sizeof(ui.token), err, sizeof(err)) < 0 ||
        cl_conf_session(ui.session, sizeof(ui.session), err, sizeof(err)) < 0) {
        fprintf(stderr, "aa-desktop: %s\n", err);
        cl_conf_free();
        return 2;
    }
    ui.dump_path = cl_conf_str("state-dump")[0] ? cl_conf_str("state-dump") : NULL;
    ui.shot_dir = cl_conf_str("screenshot-dir")[0] ? cl_conf_str("screenshot-dir") : NULL;
    ui.stream_text = g_string_new("");
    signal(SIGPIPE, SIG_IGN);
    ui.gapp = gtk_application_new("org.agentasync.Desktop", G_APPLICATION_NON_UNIQUE);
    g_signal_connect(ui.gapp, "activate", G_CALLBACK(activate), NULL);
    g_unix_signal_add(SIGINT, on_signal, NULL);
    g_unix_signal_add(SIGTERM, on_signal, NULL);
    char *args[] = {argv[0], NULL};
    rc = g_application_run(G_APPLICATION(ui.gapp), 1, args);
    cl_act_free(ui.act);
    cl_conn_free(ui.conn);
    g_object_unref(ui.gapp);
    g_string_free(ui.stream_text, TRUE);
    free(ui.rows);
    cl_conf_free();
    return rc;
}
