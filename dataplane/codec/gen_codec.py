#!/usr/bin/python3
"""Generate sluice's Kafka message codec from the project's schema files.

Input: dataplane/codec/schema/*.def (format described in docs/protocol.md).
Output (argv): codec_messages.h, codec_messages.c, codec_samples.c.

The .def format, one field per line, nesting with braces:

    api <key> <snake_name>
    request|response versions v<lo>-<hi> flexible v<n>+|none
      struct <name> v<spec> {          common struct, referenced by name
        ...
      }
      <field> <type> v<spec> [null v<spec>] [tag <n>] [default <value>] [{ ...fields... }]
    end

Types: bool int8 int16 uint16 int32 int64 float64 string bytes records uuid, a struct
name, or []<type>. A version spec is v3+, v0-7 or v5.
"""
import os
import re
import sys

PRIMS = {
    # type: (C type, read fn, write fn, fixed width or None)
    'bool': ('bool', 'sl_codec_read_bool', 'sl_codec_write_bool', 1),
    'int8': ('int8_t', 'sl_codec_read_i8', 'sl_codec_write_i8', 1),
    'int16': ('int16_t', 'sl_codec_read_i16', 'sl_codec_write_i16', 2),
    'uint16': ('uint16_t', 'sl_codec_read_u16', 'sl_codec_write_u16', 2),
    'int32': ('int32_t', 'sl_codec_read_i32', 'sl_codec_write_i32', 4),
    'int64': ('int64_t', 'sl_codec_read_i64', 'sl_codec_write_i64', 8),
    'float64': ('double', 'sl_codec_read_f64', 'sl_codec_write_f64', 8),
    'uuid': ('struct sl_codec_uuid', 'sl_codec_read_uuid', 'sl_codec_write_uuid', 16),
    'string': ('struct sl_codec_slice', 'sl_codec_read_string', 'sl_codec_write_string', None),
    'bytes': ('struct sl_codec_slice', 'sl_codec_read_bytes', 'sl_codec_write_bytes', None),
    'records': ('struct sl_codec_records', 'sl_codec_read_records', 'sl_codec_write_records',
                None),
}
VARLEN_WIDTH = {'string': 2, 'bytes': 4, 'records': 4}
INTS = ('int8', 'int16', 'uint16', 'int32', 'int64')
C_KEYWORDS = {'default', 'int', 'char', 'struct', 'union', 'static', 'const', 'return',
              'register', 'auto', 'long', 'short', 'unsigned', 'signed', 'void', 'case'}


class SchemaError(Exception):
    pass


def parse_vspec(s, where):
    m = re.fullmatch(r'v(\d+)(\+|-(\d+))?', s)
    if not m:
        raise SchemaError('%s: bad version spec %r' % (where, s))
    lo = int(m.group(1))
    if m.group(2) == '+':
        return (lo, None)
    if m.group(3) is not None:
        return (lo, int(m.group(3)))
    return (lo, lo)


class Field:
    def __init__(self, name, typ, versions, nullable, tag, default, where):
        if name in C_KEYWORDS:
            name = name + '_'
        self.name, self.versions, self.nullable = name, versions, nullable
        self.tag, self.default, self.where = tag, default, where
        self.is_array = typ.startswith('[]')
        self.elem = typ[2:] if self.is_array else typ
        self.struct = None  # resolved Struct for struct-typed fields


class Struct:
    def __init__(self, name, cname, versions):
        self.name, self.cname, self.versions = name, cname, versions
        self.fields = []


class Message:
    def __init__(self, api_key, base, kind, versions, flex):
        self.api_key, self.base, self.kind = api_key, base, kind
        self.versions, self.flex = versions, flex
        self.cname = 'sl_codec_%s_%s' % (base, kind)
        self.structs = {}  # name -> Struct (every nested and common struct)
        self.top = Struct(None, self.cname, versions)


def parse_file(path):
    lines = []
    with open(path) as f:
        for no, raw in enumerate(f, 1):
            line = raw.split('#', 1)[0].strip()
            if line:
                lines.append((no, line))
    where = lambda no: '%s:%d' % (os.path.basename(path), no)
    it = iter(lines)
    no, line = next(it)
    m = re.fullmatch(r'api (\d+) ([a-z_0-9]+)', line)
    if not m:
        raise SchemaError('%s: expected "api <key> <name>"' % where(no))
    api_key, base = int(m.group(1)), m.group(2)
    msgs = {}
    for no, line in it:
        m = re.fullmatch(r'(request|response) versions (\S+) flexible (\S+)', line)
        if not m:
            raise SchemaError('%s: expected request/response line' % where(no))
        kind = m.group(1)
        versions = parse_vspec(m.group(2), where(no))
        flex = None if m.group(3) == 'none' else parse_vspec(m.group(3), where(no))[0]
        msg = Message(api_key, base, kind, versions, flex)
        parse_block(it, msg, msg.top, where, top=True)
        msgs[kind] = msg
    if set(msgs) != {'request', 'response'}:
        raise SchemaError('%s: needs a request and a response' % path)
    for msg in msgs.values():
        resolve(msg, msg.top)
        check_versions(msg, msg.top)
    return msgs['request'], msgs['response']


def new_struct(msg, name, versions, where):
    if name in msg.structs:
        raise SchemaError('%s: struct %s defined twice' % (where, name))
    s = Struct(name, '%s_%s' % (msg.cname, name), versions)
    msg.structs[name] = s
    return s


def parse_block(it, msg, struct, where, top=False):
    for no, line in it:
        if line == ('end' if top else '}'):
            return
        w = where(no)
        m = re.fullmatch(r'struct ([a-z_0-9]+) (\S+) \{', line)
        if m:
            s = new_struct(msg, m.group(1), parse_vspec(m.group(2), w), w)
            parse_block(it, msg, s, where)
            continue
        toks = line.split()
        opens = toks[-1] == '{'
        if opens:
            toks = toks[:-1]
        if len(toks) < 3:
            raise SchemaError('%s: field needs name, type, versions' % w)
        name, typ, versions = toks[0], toks[1], parse_vspec(toks[2], w)
        nullable = tag = default = None
        rest = toks[3:]
        while rest:
            key = rest.pop(0)
            if not rest:
                raise SchemaError('%s: %s needs a value' % (w, key))
            val = rest.pop(0)
            if key == 'null':
                nullable = parse_vspec(val, w)
            elif key == 'tag':
                tag = int(val)
            elif key == 'default':
                default = val
            else:
                raise SchemaError('%s: unknown attribute %s' % (w, key))
        f = Field(name, typ, versions, nullable, tag, default, w)
        if opens:
            s = new_struct(msg, f.elem, versions, w)
            parse_block(it, msg, s, where)
        struct.fields.append(f)


def check_versions(msg, struct):
    for f in struct.fields:
        lo, hi = f.versions
        if lo > msg.versions[1] or (hi is not None and hi < lo):
            raise SchemaError('%s: field %s is never present' % (f.where, f.name))
        if f.struct:
            check_versions(msg, f.struct)


def resolve(msg, struct):
    for f in struct.fields:
        if f.elem in PRIMS:
            continue
        if f.elem not in msg.structs:
            raise SchemaError('%s: unknown type %s' % (f.where, f.elem))
        f.struct = msg.structs[f.elem]
        if not f.is_array and f.tag is None:
            raise SchemaError('%s: plain struct fields must be tagged' % f.where)
        if f.nullable and not f.is_array and f.struct:
            raise SchemaError('%s: nullable structs are not supported' % f.where)
    for s in msg.structs.values():
        for f in s.fields:
            if f.elem not in PRIMS and f.struct is None:
                if f.elem not in msg.structs:
                    raise SchemaError('%s: unknown type %s' % (f.where, f.elem))
                f.struct = msg.structs[f.elem]


def vcond(spec, msg):
    """C condition that version v is in spec, simplified against the message range."""
    if spec is None:
        return 'false'
    lo, hi = spec
    mlo, mhi = msg.versions
    parts = []
    if lo > mlo:
        parts.append('v >= %d' % lo)
    if hi is not None and hi < mhi:
        parts.append('v <= %d' % hi)
    if hi is not None and hi < lo:
        return 'false'
    return ' && '.join(parts) if parts else 'true'


def flexcond(msg):
    return 'false' if msg.flex is None else ('v >= %d' % msg.flex if msg.flex > msg.versions[0]
                                             else 'true')


def c_default(f):
    """C assignment statements (to o->name) establishing the field's default."""
    n = 'o->' + f.name
    if f.is_array:
        return []
    if f.struct:
        return ['%s_init(&%s);' % (f.struct.cname, n)]
    if f.elem in INTS or f.elem == 'float64':
        return ['%s = %s;' % (n, f.default)] if f.default not in (None, '0') else []
    if f.elem == 'bool':
        return ['%s = true;' % n] if f.default == 'true' else []
    if f.elem in ('string', 'bytes'):
        if f.default == 'null':
            return ['%s.len = -1;' % n]
        if f.default not in (None, '""'):
            raise SchemaError('%s: string defaults other than "" and null unsupported' % f.where)
        return []
    if f.elem == 'records':
        return ['%s.len = -1;' % n]
    return []


def nondefault_expr(f):
    n = 'o->' + f.name
    if f.is_array:
        return '%s_count != 0' % n
    if f.struct:
        return '!%s_is_default(&%s)' % (f.struct.cname, n)
    if f.elem in INTS or f.elem == 'float64':
        return '%s != %s' % (n, f.default if f.default is not None else '0')
    if f.elem == 'bool':
        return '%s != %s' % (n, 'true' if f.default == 'true' else 'false')
    if f.elem in ('string', 'bytes'):
        return '%s.len != %d' % (n, -1 if f.default == 'null' else 0)
    if f.elem == 'records':
        return '%s.len != -1' % n
    if f.elem == 'uuid':
        return '!sl_codec_uuid_is_zero(&%s)' % n
    raise SchemaError('%s: no default rule' % f.where)


def elem_min_size(f, msg):
    """C expression: smallest encoding of one element of array field f at version v."""
    if f.struct:
        return 'minsize_%s(v)' % f.struct.cname
    w = PRIMS[f.elem][3]
    if w is not None:
        return str(w)
    return '(flex ? 1u : %du)' % VARLEN_WIDTH[f.elem]


def field_min_size(f):
    if f.is_array:
        return '(flex ? 1u : 4u)'
    if f.struct:
        return 'minsize_%s(v)' % f.struct.cname
    w = PRIMS[f.elem][3]
    if w is not None:
        return '%du' % w
    return '(flex ? 1u : %du)' % VARLEN_WIDTH[f.elem]


def ordered_structs(msg):
    """Every struct of msg, children before parents, top last."""
    out, seen = [], set()

    def visit(s):
        if s.cname in seen:
            return
        seen.add(s.cname)
        for f in s.fields:
            if f.struct:
                visit(f.struct)
        out.append(s)
    visit(msg.top)
    for s in msg.structs.values():
        visit(s)
    # The top struct must come last; visit(msg.top) placed it after its children only.
    out.remove(msg.top)
    out.append(msg.top)
    return out


def vdesc(spec):
    lo, hi = spec
    return 'v%d+' % lo if hi is None else ('v%d' % lo if lo == hi else 'v%d-%d' % (lo, hi))


# ---------------------------------------------------------------- header
def emit_header(msgs, out):
    w = out.append
    w('/* GENERATED by dataplane/codec/gen_codec.py from dataplane/codec/schema/ (*.def).')
    w(' * Do not edit. One struct per message covers all its versions; a field absent in')
    w(' * a version holds its default after decoding and is ignored by encoding. */')
    w('#ifndef SL_CODEC_MESSAGES_H')
    w('#define SL_CODEC_MESSAGES_H')
    w('')
    w('#include "dataplane/codec/codec_wire.h"')
    w('')
    w('#ifdef __cplusplus')
    w('extern "C" {')
    w('#endif')
    w('')
    for msg in msgs:
        for s in ordered_structs(msg):
            w('struct %s;' % s.cname)
    w('')
    for msg in msgs:
        w('/* ---- %s %s, versions %s, flexible %s ---- */' % (
            camel(msg.base), msg.kind, vdesc(msg.versions),
            'none' if msg.flex is None else 'v%d+' % msg.flex))
        for s in ordered_structs(msg):
            w('struct %s {' % s.cname)
            for f in s.fields:
                note = vdesc(f.versions)
                if f.nullable:
                    note += ', nullable ' + vdesc(f.nullable)
                if f.tag is not None:
                    note += ', tag %d' % f.tag
                if f.default is not None:
                    note += ', default %s' % f.default
                if f.is_array:
                    ct = 'struct %s' % f.struct.cname if f.struct else PRIMS[f.elem][0]
                    w('    %s *%s; /* %s */' % (ct, f.name, note))
                    w('    int32_t %s_count; /* -1 = null */' % f.name)
                else:
                    ct = 'struct %s' % f.struct.cname if f.struct else PRIMS[f.elem][0]
                    w('    %s %s; /* %s */' % (ct, f.name, note))
            w('    struct sl_codec_tag_raw *unknown_tags; /* flexible versions only */')
            w('    uint32_t unknown_tag_count;')
            w('};')
            w('')
            w('/* Zero @o and set every field to its schema default. */')
            w('void %s_init(struct %s *o);' % (s.cname, s.cname))
            w('')
        t = msg.cname
        w('/* Decode a %s body of @version from @d; arrays come from d->arena, slices point' %
          msg.kind)
        w(' * into the frame. Returns SL_CODEC_OK or an sl_codec_err. Caller\'s thread. */')
        w('int %s_decode(struct sl_codec_decoder *d, int16_t version, struct %s *out);' % (t, t))
        w('/* Encode @in at @version into @e; errors are sticky in e->err. */')
        w('void %s_encode(struct sl_codec_encoder *e, int16_t version, const struct %s *in);' %
          (t, t))
        w('')
    w('#ifdef __cplusplus')
    w('}')
    w('#endif')
    w('')
    w('#endif')


def camel(base):
    return ''.join(p.capitalize() for p in base.split('_'))


# ---------------------------------------------------------------- codec
def emit_struct_code(msg, s, w):
    c = s.cname
    plain = [f for f in s.fields if f.tag is None]
    tagged = sorted([f for f in s.fields if f.tag is not None], key=lambda f: f.tag)

    # init
    w('void %s_init(struct %s *o)' % (c, c))
    w('{')
    w('    memset(o, 0, sizeof(*o));')
    for f in s.fields:
        for stmt in c_default(f):
            w('    ' + stmt)
    w('}')
    w('')

    # is_default (used for tagged struct fields)
    w('static bool __attribute__((unused)) %s_is_default(const struct %s *o)' % (c, c))
    w('{')
    w('    if (o->unknown_tag_count != 0)')
    w('        return false;')
    for f in s.fields:
        w('    if (%s)' % nondefault_expr(f))
        w('        return false;')
    w('    return true;')
    w('}')
    w('')

    # minimal encoded size
    w('static uint32_t __attribute__((unused)) minsize_%s(int16_t v)' % c)
    w('{')
    w('    const bool flex = %s;' % flexcond(msg))
    w('    uint32_t n = flex ? 1u : 0u;')
    w('    (void)v;')
    for f in plain:
        cond = vcond(f.versions, msg)
        if cond == 'true':
            w('    n += %s;' % field_min_size(f))
        else:
            w('    if (%s)' % cond)
            w('        n += %s;' % field_min_size(f))
    w('    return n ? n : 1u;')
    w('}')
    w('')

    # decode
    w('static int dec_%s(struct sl_codec_decoder *d, int16_t v, struct %s *o)' % (c, c))
    w('{')
    w('    const bool flex = %s;' % flexcond(msg))
    w('    (void)flex;')
    w('    (void)v;')
    w('    %s_init(o);' % c)
    for f in plain:
        w(open_block(vcond(f.versions, msg)))
        emit_read(msg, f, w, '        ')
        w('    }')

    if msg.flex is not None:
        w('    if (flex) {')
        w('        uint32_t ntags;')
        w('        TRY(sl_codec_read_tag_count(d, &ntags));')
        w('        for (uint32_t t = 0; t < ntags; t++) {')
        w('            uint32_t tag, size;')
        w('            TRY(sl_codec_read_tag_header(d, &tag, &size));')
        if tagged:
            w('            const uint8_t *tag_end = d->pos + size;')
            w('            const uint8_t *outer_end = d->end;')
            w('            bool known = false;')
            w('            d->end = tag_end;')
            w('            switch (tag) {')
            for f in tagged:
                w('            case %d:' % f.tag)
                w('                if (%s) {' % vcond(f.versions, msg))
                w('                    known = true;')
                emit_read(msg, f, w, '                    ', tagged=True)
                w('                }')
                w('                break;')
            w('            default:')
            w('                break;')
            w('            }')
            w('            d->end = outer_end;')
            w('            if (known) {')
            w('                if (d->pos != tag_end)')
            w('                    return SL_CODEC_ERR_TAG_SIZE_MISMATCH;')
            w('                continue;')
            w('            }')
        w('            TRY(sl_codec_keep_unknown_tag(d, tag, size, ntags, &o->unknown_tags,')
        w('                                          &o->unknown_tag_count));')
        w('        }')
        w('    }')
    w('    return SL_CODEC_OK;')
    w('}')
    w('')

    # encode
    w('static void enc_%s(struct sl_codec_encoder *e, int16_t v, const struct %s *o)' % (c, c))
    w('{')
    w('    const bool flex = %s;' % flexcond(msg))
    w('    (void)flex;')
    w('    (void)v;')
    for f in plain:
        w(open_block(vcond(f.versions, msg)))
        emit_write(msg, f, w, '        ')
        w('    }')
    if msg.flex is not None:
        w('    if (flex) {')
        w('        uint32_t n = o->unknown_tag_count;')
        w('        uint32_t next_unknown = 0;')
        for f in tagged:
            w('        const bool has_%s = (%s) && (%s);' % (f.name, vcond(f.versions, msg),
                                                          nondefault_expr(f)))
            w('        n += has_%s;' % f.name)
        w('        sl_codec_write_uvarint(e, n);')
        for f in tagged:
            w('        if (has_%s) {' % f.name)
            w('            sl_codec_write_unknown_tags(e, o->unknown_tags, o->unknown_tag_count,')
            w('                                        &next_unknown, %du);' % f.tag)
            w('            size_t mark = sl_codec_tag_begin(e, %du);' % f.tag)
            emit_write(msg, f, w, '            ')
            w('            sl_codec_tag_end(e, mark);')
            w('        }')
        w('        sl_codec_write_unknown_tags(e, o->unknown_tags, o->unknown_tag_count,')
        w('                                    &next_unknown, UINT64_MAX);')
        w('    }')
    w('}')
    w('')


def open_block(cond):
    """Start of the block holding a field's code: no test when every version has it."""
    return '    {' if cond == 'true' else '    if (%s) {' % cond


def null_expr(f, msg):
    return vcond(f.nullable, msg) if f.nullable else 'false'


def read_one(msg, f, target):
    if f.struct:
        return 'dec_%s(d, v, %s)' % (f.struct.cname, target)
    fn = PRIMS[f.elem][1]
    if f.elem in VARLEN_WIDTH:
        nul = null_expr(f, msg) if not f.is_array else 'false'
        return '%s(d, flex, %s, %s)' % (fn, nul, target)
    return '%s(d, %s)' % (fn, target)


def emit_read(msg, f, w, ind, tagged=False):
    n = 'o->' + f.name
    if not f.is_array:
        w(ind + 'TRY(%s);' % read_one(msg, f, '&' + n))
        return
    w(ind + 'int32_t count;')
    w(ind + 'TRY(sl_codec_read_array_count(d, flex, %s, %s, &count));' % (
        null_expr(f, msg), elem_min_size(f, msg)))
    w(ind + '%s_count = count;' % n)
    w(ind + 'void *items;')
    w(ind + 'TRY(sl_codec_alloc_array(d, count < 0 ? 0 : count, sizeof(*%s), &items));' % n)
    w(ind + '%s = items;' % n)
    w(ind + 'for (int32_t i = 0; i < count; i++)')
    w(ind + '    TRY(%s);' % read_one(msg, f, '&%s[i]' % n))


def write_one(msg, f, src):
    if f.struct:
        return 'enc_%s(e, v, %s)' % (f.struct.cname, src)
    fn = PRIMS[f.elem][2]
    if f.elem in VARLEN_WIDTH:
        nul = null_expr(f, msg) if not f.is_array else 'false'
        return '%s(e, flex, %s, %s)' % (fn, nul, src)
    if f.elem == 'uuid':
        return '%s(e, %s)' % (fn, src)
    return '%s(e, %s)' % (fn, src[1:] if src.startswith('&') else '*' + src)


def emit_write(msg, f, w, ind):
    n = 'o->' + f.name
    if not f.is_array:
        w(ind + '%s;' % write_one(msg, f, '&' + n))
        return
    w(ind + 'SL_ASSERT(%s_count <= 0 || %s != NULL);' % (n, n))
    w(ind + 'sl_codec_write_array_count(e, flex, %s, %s_count);' % (null_expr(f, msg), n))
    w(ind + 'for (int32_t i = 0; i < %s_count; i++)' % n)
    w(ind + '    %s;' % write_one(msg, f, '&%s[i]' % n))


def emit_codec(pairs, out):
    w = out.append
    w('/* GENERATED by dataplane/codec/gen_codec.py. Do not edit. */')
    w('#include "dataplane/codec/codec.h"')
    w('')
    w('#define TRY(expr)                                                                   \\')
    w('    do {                                                                            \\')
    w('        int rc_ = (expr);                                                           \\')
    w('        if (rc_ != SL_CODEC_OK)                                                     \\')
    w('            return rc_;                                                             \\')
    w('    } while (0)')
    w('')
    w('static bool __attribute__((unused)) sl_codec_uuid_is_zero(const struct sl_codec_uuid *u)')
    w('{')
    w('    for (int i = 0; i < 16; i++)')
    w('        if (u->bytes[i])')
    w('            return false;')
    w('    return true;')
    w('}')
    w('')
    for req, resp in pairs:
        for msg in (req, resp):
            structs = ordered_structs(msg)
            for s in structs:
                w('static bool %s_is_default(const struct %s *o);' % (s.cname, s.cname))
                w('static uint32_t minsize_%s(int16_t v);' % s.cname)
                w('static int dec_%s(struct sl_codec_decoder *d, int16_t v, struct %s *o);' %
                  (s.cname, s.cname))
                w('static void enc_%s(struct sl_codec_encoder *e, int16_t v, const struct %s *o);'
                  % (s.cname, s.cname))
            w('')
            for s in structs:
                emit_struct_code(msg, s, w)
            c = msg.cname
            lo, hi = msg.versions
            w('int %s_decode(struct sl_codec_decoder *d, int16_t version, struct %s *out)' % (c, c))
            w('{')
            w('    SL_ASSERT(version >= %d && version <= %d);' % (lo, hi))
            w('    return dec_%s(d, version, out);' % c)
            w('}')
            w('')
            w('void %s_encode(struct sl_codec_encoder *e, int16_t version, const struct %s *in)' %
              (c, c))
            w('{')
            w('    SL_ASSERT(version >= %d && version <= %d);' % (lo, hi))
            w('    enc_%s(e, version, in);' % c)
            w('}')
            w('')
            w('static int any_dec_%s(struct sl_codec_decoder *d, int16_t v, void *out)' % c)
            w('{')
            w('    return dec_%s(d, v, out);' % c)
            w('}')
            w('')
            w('static void any_enc_%s(struct sl_codec_encoder *e, int16_t v, const void *in)' % c)
            w('{')
            w('    enc_%s(e, v, in);' % c)
            w('}')
            w('')
    w('const struct sl_codec_api sl_codec_apis[] = {')
    for req, resp in pairs:
        w('    {')
        w('        .api_key = %d,' % req.api_key)
        w('        .name = "%s",' % camel(req.base))
        w('        .min_version = %d,' % req.versions[0])
        w('        .max_version = %d,' % req.versions[1])
        w('        .first_flexible_version = %d,' % (-1 if req.flex is None else req.flex))
        w('        .request_size_bytes = sizeof(struct %s),' % req.cname)
        w('        .response_size_bytes = sizeof(struct %s),' % resp.cname)
        w('        .decode_request = any_dec_%s,' % req.cname)
        w('        .encode_request = any_enc_%s,' % req.cname)
        w('        .decode_response = any_dec_%s,' % resp.cname)
        w('        .encode_response = any_enc_%s,' % resp.cname)
        w('    },')
    w('};')
    w('')
    w('const uint32_t sl_codec_api_count = sizeof(sl_codec_apis) / sizeof(sl_codec_apis[0]);')


# ---------------------------------------------------------------- samples
def emit_samples(pairs, out):
    """Test support: fill any message with deterministic non-default values, compare two."""
    w = out.append
    w('/* GENERATED by dataplane/codec/gen_codec.py. Do not edit. Test support only. */')
    w('#include "dataplane/codec/codec_samples.h"')
    w('')
    w('static const char *const sample_strings[] = {"sluice", "topic-a", "", "grp",')
    w('                                             "x", "client-7", "range", "t\\xc3\\xa9st"};')
    w('static const uint8_t sample_blob[] = {0, 1, 2, 3, 250, 251, 252, 253, 254, 255, 9};')
    w('static const uint8_t sample_tag_data[] = {0xab, 0xcd, 0xef};')
    w('')
    w('static struct sl_codec_slice sample_slice(unsigned s, bool nullable)')
    w('{')
    w('    if (nullable && (s % 5) == 1)')
    w('        return (struct sl_codec_slice){NULL, -1};')
    w('    const char *str = sample_strings[s % 8];')
    w('    return (struct sl_codec_slice){(const uint8_t *)str, (int32_t)strlen(str)};')
    w('}')
    w('')
    w('static struct sl_codec_records sample_records(unsigned s, bool nullable)')
    w('{')
    w('    if (nullable && (s % 5) == 1)')
    w('        return (struct sl_codec_records){.len = -1};')
    w('    return (struct sl_codec_records){.ptr = sample_blob, .len = (int32_t)(s % 12)};')
    w('}')
    w('')
    w('static int64_t sample_int(unsigned s, int64_t dflt)')
    w('{')
    w('    int64_t x = (int64_t)(s % 100) + 1;')
    w('    return x == dflt ? x + 1 : x;')
    w('}')
    w('')
    w('static bool records_eq(const struct sl_codec_records *a, const struct sl_codec_records *b)')
    w('{')
    w('    if (a->len != b->len)')
    w('        return false;')
    w('    return a->len <= 0 || memcmp(a->ptr, b->ptr, (size_t)a->len) == 0;')
    w('}')
    w('')
    w('static bool tags_eq(const struct sl_codec_tag_raw *a, uint32_t na,')
    w('                    const struct sl_codec_tag_raw *b, uint32_t nb)')
    w('{')
    w('    if (na != nb)')
    w('        return false;')
    w('    for (uint32_t i = 0; i < na; i++)')
    w('        if (a[i].tag != b[i].tag || !sl_codec_slice_eq(&a[i].data, &b[i].data))')
    w('            return false;')
    w('    return true;')
    w('}')
    w('')
    for req, resp in pairs:
        for msg in (req, resp):
            structs = ordered_structs(msg)
            for s in structs:
                w('static bool sample_%s(struct sl_codec_arena *a, int16_t v, unsigned s,' % s.cname)
                w('                      struct %s *o);' % s.cname)
                w('static bool eq_%s(int16_t v, const struct %s *x, const struct %s *y);' %
                  (s.cname, s.cname, s.cname))
            for s in structs:
                emit_sample_struct(msg, s, w)
    w('bool sl_codec_test_sample(int16_t api_key, bool response, int16_t version, unsigned seed,')
    w('                          struct sl_codec_arena *arena, void *out)')
    w('{')
    w('    switch (api_key * 2 + (response ? 1 : 0)) {')
    for req, resp in pairs:
        for i, msg in enumerate((req, resp)):
            w('    case %d:' % (msg.api_key * 2 + i))
            w('        return sample_%s(arena, version, seed, out);' % msg.cname)
    w('    default:')
    w('        return false;')
    w('    }')
    w('}')
    w('')
    w('bool sl_codec_test_equal(int16_t api_key, bool response, int16_t version, const void *a,')
    w('                         const void *b)')
    w('{')
    w('    switch (api_key * 2 + (response ? 1 : 0)) {')
    for req, resp in pairs:
        for i, msg in enumerate((req, resp)):
            w('    case %d:' % (msg.api_key * 2 + i))
            w('        return eq_%s(version, a, b);' % msg.cname)
    w('    default:')
    w('        return false;')
    w('    }')
    w('}')


def sample_value(msg, f, target, seed_expr, w, ind):
    nul = '(%s)' % null_expr(f, msg)
    if f.struct:
        w(ind + 'if (!sample_%s(a, v, %s, %s))' % (f.struct.cname, seed_expr, target))
        w(ind + '    return false;')
    elif f.elem in INTS:
        w(ind + '%s = (%s)sample_int(%s, %s);' % (target, PRIMS[f.elem][0], seed_expr,
                                                 f.default if f.default else '0'))
    elif f.elem == 'float64':
        w(ind + '%s = (double)sample_int(%s, 0) + 0.5;' % (target, seed_expr))
    elif f.elem == 'bool':
        w(ind + '%s = %s;' % (target, 'false' if f.default == 'true' else 'true'))
    elif f.elem in ('string', 'bytes'):
        w(ind + '%s = sample_slice(%s, %s);' % (target, seed_expr,
                                                nul if not f.is_array else 'false'))
    elif f.elem == 'records':
        w(ind + '%s = sample_records(%s, %s);' % (target, seed_expr, nul))
    elif f.elem == 'uuid':
        w(ind + 'for (int b = 0; b < 16; b++)')
        w(ind + '    %s.bytes[b] = (uint8_t)(%s + (unsigned)b + 1u);' % (target, seed_expr))
    else:
        raise SchemaError('%s: no sample rule' % f.where)


def eq_expr(f, a, b):
    if f.struct:
        return 'eq_%s(v, &%s, &%s)' % (f.struct.cname, a, b)
    if f.elem in ('string', 'bytes'):
        return 'sl_codec_slice_eq(&%s, &%s)' % (a, b)
    if f.elem == 'records':
        return 'records_eq(&%s, &%s)' % (a, b)
    if f.elem == 'uuid':
        return 'memcmp(%s.bytes, %s.bytes, 16) == 0' % (a, b)
    return '%s == %s' % (a, b)


def emit_sample_struct(msg, s, w):
    c = s.cname
    w('static bool sample_%s(struct sl_codec_arena *a, int16_t v, unsigned s, struct %s *o)' %
      (c, c))
    w('{')
    w('    const bool flex = %s;' % flexcond(msg))
    w('    (void)flex;')
    w('    (void)v;')
    w('    (void)a;')
    w('    %s_init(o);' % c)
    for k, f in enumerate(s.fields):
        sd = '(s * 31u + %du)' % (k * 7 + 3)
        w(open_block(vcond(f.versions, msg)))
        if f.is_array:
            w('        if ((%s) && (s %% 7) == 3) {' % null_expr(f, msg))
            w('            o->%s_count = -1;' % f.name)
            w('        } else {')
            w('            o->%s_count = (int32_t)(s %% 3);' % f.name)
            w('            o->%s = sl_codec_arena_alloc(a, (size_t)o->%s_count, sizeof(*o->%s));' %
              (f.name, f.name, f.name))
            w('            if (o->%s_count > 0 && o->%s == NULL)' % (f.name, f.name))
            w('                return false;')
            w('            for (int32_t i = 0; i < o->%s_count; i++) {' % f.name)
            sample_value(msg, f, ('&o->%s[i]' if f.struct else 'o->%s[i]') % f.name,
                         '(%s + (unsigned)i * 11u)' % sd, w,
                         '                ')
            w('            }')
            w('        }')
        else:
            sample_value(msg, f, ('&o->%s' if f.struct else 'o->%s') % f.name, sd, w, '        ')
        w('    }')
    if msg.flex is not None:
        w('    if (flex && (s % 4) == 2) {')
        w('        o->unknown_tags = sl_codec_arena_alloc(a, 1, sizeof(*o->unknown_tags));')
        w('        if (o->unknown_tags == NULL)')
        w('            return false;')
        w('        o->unknown_tags[0].tag = 77;')
        w('        o->unknown_tags[0].data = (struct sl_codec_slice){sample_tag_data, 3};')
        w('        o->unknown_tag_count = 1;')
        w('    }')
    w('    return true;')
    w('}')
    w('')
    w('static bool eq_%s(int16_t v, const struct %s *x, const struct %s *y)' % (c, c, c))
    w('{')
    w('    const bool flex = %s;' % flexcond(msg))
    w('    if (flex && !tags_eq(x->unknown_tags, x->unknown_tag_count, y->unknown_tags,')
    w('                         y->unknown_tag_count))')
    w('        return false;')
    for f in s.fields:
        w(open_block(vcond(f.versions, msg)))
        if f.is_array:
            w('        if (x->%s_count != y->%s_count)' % (f.name, f.name))
            w('            return false;')
            w('        for (int32_t i = 0; i < x->%s_count; i++)' % f.name)
            w('            if (!(%s))' % eq_expr(f, 'x->%s[i]' % f.name, 'y->%s[i]' % f.name))
            w('                return false;')
        else:
            w('        if (!(%s))' % eq_expr(f, 'x->' + f.name, 'y->' + f.name))
            w('            return false;')
        w('    }')
    w('    (void)v;')
    w('    return true;')
    w('}')
    w('')


def main():
    if len(sys.argv) < 5:
        sys.exit('usage: gen_codec.py OUT.h OUT.c OUT_SAMPLES.c SCHEMA.def...')
    out_h, out_c, out_s = sys.argv[1:4]
    pairs = []
    try:
        for path in sys.argv[4:]:
            pairs.append(parse_file(path))
    except SchemaError as e:
        sys.exit('gen_codec: %s' % e)
    pairs.sort(key=lambda p: p[0].api_key)
    keys = [p[0].api_key for p in pairs]
    if len(set(keys)) != len(keys):
        sys.exit('gen_codec: duplicate api key')
    for req, resp in pairs:
        if req.versions != resp.versions or req.flex != resp.flex:
            sys.exit('gen_codec: %s request/response version ranges differ' % req.base)
    msgs = [m for p in pairs for m in p]
    for path, fn in ((out_h, lambda o: emit_header(msgs, o)), (out_c, lambda o: emit_codec(pairs, o)),
                     (out_s, lambda o: emit_samples(pairs, o))):
        lines = []
        fn(lines)
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
