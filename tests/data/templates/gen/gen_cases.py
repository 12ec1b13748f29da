import json, random, sys
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
DATA = json.dumps({"S":"hello","E":"","L":["a","b","c"],"M":{"x":"1","a":"2"},"T":True,"F":False,"Z":None,"O":{"A":{"B":"deep<&>"}},"LL":[["x"],[]],"U":"\u00e9\u2028"})
FIELDS = [".S",".E",".L",".M",".T",".F",".Z",".O.A.B",".O.A",".O",".Missing",".LL","$.S",".M.x",".U","."]
LITS = ['"str"','"a\\nb"','`raw`',"1","0","2","-1","1.5","true","false","'x'","0x10"]
FUNCS = ["eq","ne","lt","le","gt","ge","and","or","not","len","index","slice","print","printf","println","html","js","urlquery","json"]
def operand(vars, d=0):
    r = random.random()
    if r < 0.4: return random.choice(FIELDS)
    if r < 0.6: return random.choice(LITS)
    if r < 0.7 and vars: return random.choice(vars)
    if r < 0.8 and d < 2: return "(" + pipeline(vars, d+1) + ")"
    if r < 0.85: return "nil"
    return random.choice(FIELDS)
def command(vars, d):
    if random.random() < 0.55:
        f = random.choice(FUNCS)
        n = random.randint(0, 3)
        if f == "printf":
            fmt = random.choice(['"%s"','"%d"','"%v|%v"','"%q"','"%5s|"','"%-4v|"','"%x"','"%t"','"%.2f"','"%s %s"'])
            return f + " " + fmt + "".join(" " + operand(vars, d) for _ in range(n))
        return f + "".join(" " + operand(vars, d) for _ in range(n))
    return operand(vars, d)
def pipeline(vars, d=0):
    p = command(vars, d)
    if random.random() < 0.2:
        f = random.choice(["print","len","not","json","html","printf \"<%s>\"","eq \"a\"","index .M"])
        p += " | " + f
    return p
def text():
    return random.choice(["", "x", " ", "\n", "  y\n ", "<a>", "\t"])
def action(inner):
    l = random.choice(["{{", "{{- "]); r = random.choice(["}}", " -}}"])
    return l + inner + r
def block(vars, d=0, in_range=False):
    out = []
    for _ in range(random.randint(1, 2 if d else 3)):
        out.append(text())
        r = random.random()
        if r < 0.35 or d > 1:
            out.append(action(" " + pipeline(vars) + " "))
        elif r < 0.45:
            v = "$v%d" % len(vars)
            out.append(action(" %s := %s " % (v, pipeline(vars)))); vars = vars + [v]
        elif r < 0.5 and vars:
            out.append(action(" %s = %s " % (random.choice(vars), pipeline(vars))))
        elif r < 0.65:
            s = action(" if " + pipeline(vars) + " ") + block(vars, d+1, in_range)
            if random.random() < 0.3: s += action(" else if " + pipeline(vars) + " ") + block(vars, d+1, in_range)
            if random.random() < 0.5: s += action(" else ") + block(vars, d+1, in_range)
            out.append(s + action(" end "))
        elif r < 0.8:
            dv = random.choice(["", "$i, $e := ", "$e := "])
            nv = vars + ([x for x in ["$i", "$e"] if x in dv])
            s = action(" range " + dv + random.choice([".L",".M",".LL",".E",".Z",".S",".Missing","."]) + " ") + block(nv, d+1, True)
            if random.random() < 0.3: s += action(" else ") + block(vars, d+1, in_range)
            out.append(s + action(" end "))
        elif r < 0.9:
            s = action(" with " + pipeline(vars) + " ") + block(vars, d+1, in_range)
            if random.random() < 0.4: s += action(" else ") + block(vars, d+1, in_range)
            out.append(s + action(" end "))
        elif r < 0.95 and in_range:
            out.append(action(random.choice([" break ", " continue "])))
        else:
            out.append(action("/* c */"))
    return "".join(out)
for _ in range(N):
    print(json.dumps({"t": block([]), "d": DATA}))
