#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# sd_fake.py DIR [--inject NAME=PATH]... [--chown UID] [--abstract NAME]
#            [--once] -- SERVER ARGS...
#
# The part of systemd's service manager the fd store holder talks to, for
# testing lib/fdstore.c where no real systemd can run: a notify socket
# (DIR/notify), FDSTORE=1 / FDNAME= / FDSTOREREMOVE=1 / BARRIER=1 /
# READY=1 from the main process only (NotifyAccess=main), and
# Restart=always: when the server dies it is started again with the stored
# fds as LISTEN_FDS / LISTEN_FDNAMES / LISTEN_PID.  --inject puts an fd of
# PATH in the store before the first start (fds that are not ours, or lie
# about what they are).  SIGTERM stops the server with SIGTERM, then
# writes what is left in the store.  --chown gives the notify socket to
# another uid, --abstract binds an abstract socket @NAME instead (both must
# be refused by the library), --once does not restart.
# Everything it sees goes to DIR/sd.log:
#   start N pid P fds K [names]    stored NAME    removed NAME
#   ready P    exit P STATUS    ignored P ...    store-at-exit K [names]
import os
import select
import signal
import socket
import struct
import sys
import time

MAX_FDS = 253


def main():
    args = sys.argv[1:]
    if '--' not in args or not args:
        print(__doc__ if __doc__ else 'usage: sd_fake.py DIR -- SERVER',
              file=sys.stderr)
        return 2
    sep = args.index('--')
    opts, cmd = args[:sep], args[sep + 1:]
    d = opts.pop(0)
    store = []  # [name, fd], in arrival order, like systemd's list
    owner, abstract, once = None, None, False
    while opts:
        o = opts.pop(0)
        if o == '--inject':
            name, path = opts.pop(0).split('=', 1)
            store.append([name, os.open(path, os.O_RDONLY | os.O_CLOEXEC)])
        elif o == '--chown':
            owner = int(opts.pop(0))
        elif o == '--abstract':
            abstract = opts.pop(0)
        elif o == '--once':
            once = True
        else:
            print('sd_fake: unknown option ' + o, file=sys.stderr)
            return 2
    logf = open(os.path.join(d, 'sd.log'), 'a', buffering=1)

    def log(*a):
        logf.write(' '.join(str(x) for x in a) + '\n')

    path = os.path.join(d, 'notify')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    if abstract:
        sock.bind('\0' + abstract)
        path = '@' + abstract
    else:
        sock.bind(path)
    if owner is not None:
        os.chown(path, owner, owner)
    sock.setblocking(False)
    stopping = [False]
    signal.signal(signal.SIGTERM, lambda *a: stopping.__setitem__(0, True))
    starts = [0]

    def start():
        names = [n for n, _ in store]
        fds = [f for _, f in store]
        pid = os.fork()
        if pid == 0:
            high = [os.dup2(f, 200 + i, inheritable=False)
                    for i, f in enumerate(fds)]
            for i, f in enumerate(high):
                os.dup2(f, 3 + i, inheritable=True)
            os.closerange(3 + len(fds), 4096)
            env = dict(os.environ)
            env['NOTIFY_SOCKET'] = path
            for k in ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'):
                env.pop(k, None)
            if fds:
                env['LISTEN_FDS'] = str(len(fds))
                env['LISTEN_PID'] = str(os.getpid())
                env['LISTEN_FDNAMES'] = ':'.join(names)
            os.execvpe(cmd[0], cmd, env)
        starts[0] += 1
        log('start', starts[0], 'pid', pid, 'fds', len(fds), *names)
        return pid

    def handle(data, fds, pid, main):
        text = data.decode(errors='replace')
        log('message', pid, 'fds', len(fds))
        if pid != main:
            log('ignored', pid, text.replace('\n', ' '))
            for f in fds:
                os.close(f)
            return
        fields = dict(l.split('=', 1) for l in text.split('\n') if '=' in l)
        if fields.get('BARRIER') == '1':
            # Every earlier message is handled: closing says so.
            for f in fds:
                os.close(f)
            return
        if fields.get('FDSTOREREMOVE') == '1':
            name = fields.get('FDNAME', '')
            for e in [e for e in store if e[0] == name]:
                os.close(e[1])
                store.remove(e)
            log('removed', name)
        if fields.get('FDSTORE') == '1':
            name = fields.get('FDNAME', 'stored')
            for f in fds:
                store.append([name, f])
                log('stored', name)
            fds = []
        if fields.get('READY') == '1':
            log('ready', pid)
        for f in fds:
            os.close(f)

    def drain(main):
        while True:
            try:
                data, anc, _, _ = sock.recvmsg(
                    4096, socket.CMSG_SPACE(MAX_FDS * 4) +
                    socket.CMSG_SPACE(12), socket.MSG_CMSG_CLOEXEC)
            except BlockingIOError:
                return
            fds, pid = [], 0
            for level, typ, cdata in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    n = len(cdata) // 4
                    fds += list(struct.unpack('%di' % n, cdata[:n * 4]))
                elif (level == socket.SOL_SOCKET and
                      typ == socket.SCM_CREDENTIALS):
                    pid = struct.unpack('iII', cdata[:12])[0]
            handle(data, fds, pid, main)

    main = start()
    while True:
        select.select([sock], [], [], 0.02)
        drain(main)
        if stopping[0]:
            stopping[0] = None
            os.kill(main, signal.SIGTERM)
        got, status = os.waitpid(main, os.WNOHANG)
        if got != main:
            continue
        # systemd handles queued notifications before the exit.
        drain(main)
        log('exit', main, status)
        if stopping[0] is None or once:
            break
        time.sleep(0.1)  # RestartSec=100ms
        main = start()
    log('store-at-exit', len(store), *[n for n, _ in store])
    return 0


sys.exit(main())
