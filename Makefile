# make install [DESTDIR=...] [PREFIX=/usr/local]: builds evald in release mode and installs the
# binary, the systemd unit, a starting config, the shipped data (contrib/ among it) and the user docs (docs/, in
# $(PREFIX)/share/doc/evald: alerts' default runbook_url points there). make uninstall removes
# them again (but not a config that is already there, nor the state in /var/lib/evald).
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
BINARY ?= .build/release/evald
DATADIR = $(PREFIX)/share/evald
# evald derives its default alerts.runbook_base from its own path ($(PREFIX)/bin/evald), so
# this must stay $(PREFIX)/share/doc/evald.
DOCDIR = $(PREFIX)/share/doc/evald

INSTALL ?= install

.PHONY: build install uninstall

build:
	swift build -c release --product evald

$(BINARY):
	swift build -c release --product evald

install: $(BINARY)
	$(INSTALL) -D -m 755 $(BINARY) $(DESTDIR)$(PREFIX)/bin/evald
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	sed 's#/usr/local/bin/evald#$(PREFIX)/bin/evald#; s#/etc/evald/#$(SYSCONFDIR)/evald/#g' systemd/evald.service > $(DESTDIR)$(UNITDIR)/evald.service
	chmod 644 $(DESTDIR)$(UNITDIR)/evald.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/evald/evald.yaml ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/evald/evald.yaml"; \
	else \
		$(INSTALL) -D -m 640 systemd/evald.yaml $(DESTDIR)$(SYSCONFDIR)/evald/evald.yaml; \
	fi
	$(INSTALL) -d $(DESTDIR)$(DATADIR)/schemas $(DESTDIR)$(DATADIR)/reference-judges $(DESTDIR)$(DATADIR)/golden
	$(INSTALL) -m 644 examples/schemas/*.json $(DESTDIR)$(DATADIR)/schemas/
	for dir in reference-judges golden; do \
		if [ -n "$$(ls -A $$dir 2>/dev/null)" ]; then cp -R $$dir/. $(DESTDIR)$(DATADIR)/$$dir/; fi; \
	done
	$(INSTALL) -D -m 644 README.md $(DESTDIR)$(DATADIR)/README.md
	$(INSTALL) -D -m 644 contrib/grafana/evald.json $(DESTDIR)$(DATADIR)/contrib/grafana/evald.json
	$(INSTALL) -D -m 644 contrib/prometheus/evald-rules.yml $(DESTDIR)$(DATADIR)/contrib/prometheus/evald-rules.yml
	$(INSTALL) -D -m 644 contrib/prometheus/evald-rules.test.yml $(DESTDIR)$(DATADIR)/contrib/prometheus/evald-rules.test.yml
	$(INSTALL) -d $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/evald $(DESTDIR)$(UNITDIR)/evald.service
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/evald (config) and the state directory"
