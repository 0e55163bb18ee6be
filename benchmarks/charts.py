"""PNG charts of the numeric rows, drawn from the same figures as the tables."""
import os

import matplotlib

matplotlib.use('Agg')              # files only, no display
import matplotlib.pyplot as plt    # noqa: E402

SCENARIOS = ['reader', 'writer', 'churn', 'anonymous', 'mix']


def _figures(results, key):
    out = {}
    for name, figures in results['targets'].items():
        value = figures.get(key)
        if isinstance(value, dict) and 'error' not in value:
            out[figures['label']] = value
    return out


def _bars(path, title, ylabel, labels, series, fmt='{:.0f}'):
    """Grouped bars: ``series`` is [(legend, [value or None per label])]."""
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(labels) + 2), 4.2))
    width = 0.8 / max(1, len(series))
    for index, (legend, values) in enumerate(series):
        xs = [i + index * width for i in range(len(labels))]
        heights = [v if v is not None else 0 for v in values]
        bars = ax.bar(xs, heights, width, label=legend)
        for bar, value in zip(bars, values):
            ax.annotate('n/a' if value is None else fmt.format(value),
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha='center', va='bottom', fontsize=7)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(labels))])
    ax.set_xticklabels(labels, rotation=20, ha='right', fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.basename(path)


def draw(results, out_dir):
    """{row: [png file names]} for the report."""
    charts = {}

    restart = _figures(results, 'restart')
    shared = _figures(results, 'shared')
    labels = sorted(set(restart) | set(shared), key=list(
        f['label'] for f in results['targets'].values()).index)

    def pct(table, label, valid, total='clients'):
        f = table.get(label)
        return None if f is None else 100 * f[valid] / f[total]
    charts['1'] = [_bars(os.path.join(out_dir, 'row1_restart.png'),
                         'Row 1: logged-in clients still logged in after an app restart',
                         '% of clients', labels,
                         [('after app restart', [pct(restart, l, 'valid_after_restart')
                                                 for l in labels])])]
    charts['5'] = [_bars(os.path.join(out_dir, 'row5_second_process.png'),
                         'Row 5: sessions valid on a second app process', '% of clients',
                         labels, [('second process', [pct(shared, l, 'valid_on_second_process')
                                                      for l in labels])])]

    size = _figures(results, 'size')
    labels = list(size)
    charts['2'] = [_bars(os.path.join(out_dir, 'row2_size.png'),
                         'Row 2: bytes per 10,000 live sessions', 'MiB', labels,
                         [('app RSS', [_mib(size[l]['app_rss_per_10k']) for l in labels]),
                          ('store', [_mib(size[l]['store_bytes_per_10k']) for l in labels])],
                         fmt='{:.2f}')]

    scenarios = _figures(results, 'scenarios')
    labels = list(scenarios)
    charts['4'] = [
        _bars(os.path.join(out_dir, 'row4_throughput.png'),
              'Row 4: requests/s per scenario (locust; churn: cycles/s)', 'req/s', labels,
              [(s, [scenarios[l].get(s, {}).get('rps') for l in labels]) for s in SCENARIOS]),
        _bars(os.path.join(out_dir, 'row4_read_latency.png'),
              'Row 4: authenticated read latency (locust)', 'ms', labels,
              [(p, [scenarios[l].get('reader', {}).get(f'{p}_ms') for l in labels])
               for p in ('p50', 'p95', 'p99')]),
    ]
    trips = _figures(results, 'round_trips')
    labels = list(trips)
    charts['4'].append(_bars(
        os.path.join(out_dir, 'row4_round_trips.png'),
        'Row 4: store commands / statements sent per request', 'commands', labels,
        [(k, [trips[l][k]['commands'] for l in labels]) for k in ('read', 'write', 'login',
                                                                 'logout')], fmt='{:g}'))

    cookie = _figures(results, 'cookie')
    labels = list(cookie)
    charts['8'] = [_bars(os.path.join(out_dir, 'row8_cookie_bytes.png'),
                         'Row 8: Cookie header bytes per request', 'bytes', labels,
                         [('fresh login', [cookie[l]['cookie_header_bytes'] for l in labels]),
                          ('with 1 KiB of data', [cookie[l]['cookie_header_bytes_with_1k_data']
                                                  for l in labels])])]

    tax = _figures(results, 'tax')
    labels = list(tax)
    charts['10'] = [_bars(os.path.join(out_dir, 'row10_session_tax.png'),
                          'Row 10: session tax = 1 − read req/s ÷ public req/s '
                          '(wrk, same server; lower is better)',
                          '%', labels, [('session tax', [tax[l]['tax_percent'] for l in labels])],
                          fmt='{:.0f} %')]

    overhead = _figures(results, 'overhead')
    labels = list(overhead)
    charts['11'] = [_bars(os.path.join(out_dir, 'row11_framework_overhead.png'),
                          'Row 11: req/s ÷ a bare Pyramid app\'s under the same waitress '
                          '(wrk; 1.00 = the floor)', 'ratio', labels,
                          [(f'{kind} ÷ bare', [overhead[l][f'{kind}_over_bare'] for l in labels])
                           for kind in ('public', 'read')], fmt='{:.2f}')]
    profile = results.get('profile') or {}
    if any('error' not in figures for figures in profile.get('targets', {}).values()):
        charts['12'] = [_stacked_layers(os.path.join(out_dir, 'row12_layers.png'), results)]
    return charts


def _stacked_layers(path, results):
    """Row 12: per target, one horizontal bar per request, stacked by layer (µs).
    A panel per target, each on its own linear scale: a SQL write costs fifty
    bare views, and a shared scale would flatten every other bar."""
    profile = results['profile']
    layers = profile['layers']
    labels = {name: f['label'] for name, f in results['targets'].items()}
    labels['bare'] = 'bare Pyramid app'
    panels = [(labels.get(name, name), figures) for name, figures in profile['targets'].items()
              if 'error' not in figures]
    heights = [len(figures) for _, figures in panels]
    header = 0.8                                    # inches for the title and legend
    height = header + 0.45 * sum(heights) + 0.55 * len(panels) + 0.4
    fig, axes = plt.subplots(len(panels), 1, squeeze=False, figsize=(10, height),
                             gridspec_kw={'height_ratios': heights})
    colours = plt.get_cmap('tab10')
    for ax, (label, figures) in zip(axes[:, 0], panels):
        requests = list(figures)
        ys = list(range(len(requests)))[::-1]       # the first request on top
        lefts = [0.0] * len(requests)
        for index, layer in enumerate(layers):
            widths = [figures[r]['layers'].get(layer, 0.0) for r in requests]
            ax.barh(ys, widths, left=lefts, height=0.7, label=layer,
                    color=colours(index % 10))
            lefts = [left + width for left, width in zip(lefts, widths)]
        for y, request, left in zip(ys, requests, lefts):
            ax.annotate(f'{figures[request]["us"]:.0f} µs', (left, y), xytext=(3, 0),
                        textcoords='offset points', va='center', fontsize=7)
        ax.set_xlim(0, max(lefts) * 1.12 or 1)
        ax.set_yticks(ys)
        ax.set_yticklabels(requests, fontsize=8)
        ax.set_title(label, loc='left', fontsize=8, pad=2)
        ax.tick_params(axis='x', labelsize=7)
    axes[-1, 0].set_xlabel('µs per request, in process (each panel on its own scale)',
                           fontsize=8)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.suptitle('Row 12: where a request\'s time goes, by layer (in process, run alone)',
                 fontsize=10, y=1 - 0.1 / height)
    fig.legend(handles, names, loc='upper center', ncol=min(len(layers), 5), fontsize=7,
               bbox_to_anchor=(0.5, 1 - 0.35 / height))
    fig.tight_layout(rect=(0, 0, 1, 1 - header / height))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.basename(path)


def _mib(value):
    return None if value is None else value / 1048576
