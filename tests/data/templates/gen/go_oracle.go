package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"text/template"
)

type tc struct {
	T string `json:"t"`
	D string `json:"d"`
}

func main() {
	funcs := template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var c tc
		json.Unmarshal(sc.Bytes(), &c)
		var data any
		json.Unmarshal([]byte(c.D), &data)
		res := func() (out string, status string) {
			defer func() {
				if r := recover(); r != nil {
					out, status = "", "panic"
				}
			}()
			t, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(c.T)
			if err != nil {
				return "", "parse"
			}
			var b []byte
			w := &bw{&b}
			if err := t.Execute(w, data); err != nil {
				return "", "exec"
			}
			return string(b), "ok"
		}
		out, st := res()
		fmt.Printf("%s %s\n", st, hex.EncodeToString([]byte(out)))
	}
}

type bw struct{ b *[]byte }

func (w *bw) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }
