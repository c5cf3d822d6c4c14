/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What each backend of hub-store-db.h implements (hub-store-db.c: SQLite and the dispatch;
 * hub-store-pg.c: PostgreSQL). Every handle and statement starts with its backend's table. */

#include "hub-store-db.h"

typedef struct HubDbOps {
        HubDb *(*close)(HubDb *db);
        const char *(*errmsg)(HubDb *db);
        void (*set_errmsg)(HubDb *db, const char *msg);
        int (*stmt)(HubDb *db, unsigned id, HubStmt **ret);
        int (*prepare)(HubDb *db, const char *sql, HubStmt **ret);
        void (*reset)(HubStmt *st);
        void (*finalize)(HubStmt *st);
        int (*bind_text)(HubStmt *st, int i, const char *t);
        int (*bind_int64)(HubStmt *st, int i, int64_t v);
        int (*bind_null)(HubStmt *st, int i);
        int (*step)(HubStmt *st);
        int64_t (*column_int64)(HubStmt *st, int i);
        const char *(*column_text)(HubStmt *st, int i);
        bool (*column_null)(HubStmt *st, int i);
        int64_t (*changes)(HubDb *db);
        int (*last_id)(HubDb *db, int64_t *ret);
        int (*exec)(HubDb *db, const char *sql);
        /* A writing transaction: BEGIN IMMEDIATE, or BEGIN on PostgreSQL. */
        int (*begin)(HubDb *db);
        bool (*in_transaction)(HubDb *db);
        int (*read_begin)(HubDb *db);
        int (*write_lock)(HubDb *db);
        void (*tx_ended)(HubDb *db, bool savepoint);
        bool (*durable)(HubDb *db);
        int (*watch_fd)(HubDb *db);
        int (*watch)(HubDb *db);
} HubDbOps;

struct HubDb {
        const HubDbOps *ops;
};

struct HubStmt {
        HubDb *db;
};
